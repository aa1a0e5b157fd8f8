"""Each rule of a deployment request, in-process: the field it names, its message, its boundary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from minds371.errors import FieldIssue, ValidationError
from minds371_akash import Budget
from minds371_akash.sdl import parse_sdl
from minds371_deploy.request import (
    DEFAULT_MAX_PRICE_UACT,
    BudgetSpec,
    DeploymentRequest,
    parse_request,
    request_payload,
)
from tests.deploy.conftest import web_request

SDL = """\
version: "2.0"
services:
  web:
    image: nginx:1.27
    expose:
      - port: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.5}
        memory: {size: 512Mi}
        storage: {size: 1Gi}
  placement:
    dc:
      pricing:
        web: {denom: uact, amount: 100}
deployment:
  web:
    dc:
      profile: web
      count: 1
"""


def refused(data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_request(data)
    return caught.value


def issues(data: Any) -> dict[str, str]:
    """``{path: message}`` of a refused request."""
    return {issue.path: issue.message for issue in refused(data).issues}


def only_issue(data: Any) -> FieldIssue:
    (issue,) = refused(data).issues
    return issue


# -- the request as a whole ------------------------------------------------------------------


def test_a_parsed_request_is_returned_as_it_is() -> None:
    request = parse_request(web_request())
    assert parse_request(request) is request


def test_a_request_that_is_not_a_mapping_is_named_by_its_type() -> None:
    error = refused(["name", "web"])
    assert error.subject == "deployment request"
    assert error.issues == (FieldIssue("/", "a deployment request is a mapping, not list"),)


def test_field_errors_carry_the_request_subject() -> None:
    assert refused(web_request("Bad")).subject == "deployment request"


def test_two_workloads_are_refused_naming_both() -> None:
    issue = only_issue(web_request(image="nginx:1.27"))
    assert issue.message == "give exactly one of infra_spec, sdl or image (got infra_spec, image)"


def test_no_workload_is_refused_without_a_got_list() -> None:
    assert only_issue({"name": "web"}).message == "give exactly one of infra_spec, sdl or image"


def test_ssl_needs_a_domain() -> None:
    assert only_issue(web_request(ssl=True)).message == "ssl needs a domain"
    request = parse_request(web_request(ssl=True, domain="app.example.com"))
    assert request.ssl is True


# -- names, text fields ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "a" * 63, "web-1", "a1"])
def test_valid_names(name: str) -> None:
    assert parse_request(web_request(name)).name == name


@pytest.mark.parametrize("name", ["", "a" * 64, "web-", "1web", "Web", "web\n", "-web", "we_b"])
def test_invalid_names_name_the_rule(name: str) -> None:
    assert issues(web_request(name)) == {
        "/name": "must be 1-63 lowercase letters, digits or '-', starting with a letter "
        "and not ending with '-'"
    }


def test_task_id_must_be_printable_and_bounded() -> None:
    assert issues(web_request(task_id="job\x07")) == {
        "/task_id": "must be printable characters only"
    }
    assert "/task_id" in issues(web_request(task_id=""))
    assert "/task_id" in issues(web_request(task_id="x" * 129))
    assert parse_request(web_request(task_id="x" * 128)).task_id == "x" * 128
    assert parse_request(web_request(task_id="job 1")).task_id == "job 1"


def test_image_problem_is_explained() -> None:
    message = issues({"name": "web", "image": "nginx latest"})["/image"]
    assert message.startswith("invalid image reference: ")
    assert len(message) > len("invalid image reference: ")


def from_source(**overrides: Any) -> dict[str, Any]:
    """A request that builds its ``web`` service from a repository."""
    fields = {"repo_url": "https://github.com/a/b", "container_registry": "ghcr.io/acme"}
    return web_request(**{**fields, **overrides})


def test_container_registry_is_checked_only_as_a_registry_name() -> None:
    good = web_request(repo_url="https://github.com/a/b", container_registry="ghcr.io/acme")
    assert parse_request(good).container_registry == "ghcr.io/acme"
    bad = web_request(repo_url="https://github.com/a/b", container_registry="not a registry")
    assert set(issues(bad)) == {"/container_registry"}


@pytest.mark.parametrize(
    "url", ["https://github.com/a/b.git", "ssh://git@host/a/b", "git@github.com:a/b.git"]
)
def test_repository_urls_of_each_scheme_are_accepted(url: str) -> None:
    assert parse_request(from_source(repo_url=url)).repo_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/app.git",
        "git://localhost/app.git",
        "http://[::1]:9418/app",
        "/srv/git/app.git",
        "file:///srv/git/app.git",
    ],
)
def test_plain_transports_to_this_machine_and_local_paths_are_accepted(url: str) -> None:
    # A local path is checked against the operator's allow-list when the build starts.
    assert parse_request(from_source(repo_url=url)).repo_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://github.com/a/b", "only to a loopback host"),
        ("git://example.com/a/b", "only to a loopback host"),
        ("https://x/$(id)", "may hold only"),
        ("https://a/b\n", "spaces or control characters"),
        ("ftp://x/y", "scheme ftp:// is not allowed"),
        ("ext::sh -c id", "spaces or control characters"),
        ("ext::id", "must be an https://"),
        ("--upload-pack=id", "must not begin with '-'"),
        ("https://user:pw@github.com/a/b", "must not carry credentials"),
        ("file://etc/passwd", "absolute path"),
        ("/srv/../etc", "must not contain '..'"),
    ],
)
def test_other_repository_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    found = issues(from_source(repo_url=url))
    assert set(found) == {"/repo_url"}
    assert reason in found["/repo_url"]


@pytest.mark.parametrize("branch", ["dev", "release/1.2", "v1.0_rc-2", "feature+x"])
def test_plain_branches_are_accepted(branch: str) -> None:
    assert parse_request(from_source(repo_branch=branch)).repo_branch == branch


@pytest.mark.parametrize(
    ("branch", "reason"),
    [
        ("main;id", "shell metacharacters"),
        ("$(reboot)", "shell metacharacters"),
        ("a`id`", "shell metacharacters"),
        ("a b", "shell metacharacters"),
        ("a|b", "shell metacharacters"),
        ("a~1", "shell metacharacters"),
        ("-x", "must not begin with '-'"),
        ("a..b", "'..'"),
        ("a//b", "'//'"),
        ("a/", "end with '/'"),
        ("a.lock", ".lock"),
        ("a/.hidden", "begin with '.'"),
        ("@", "'@'"),
        ("a@{1}", "shell metacharacters"),
        ("", "1-200 characters"),
        ("x" * 201, "1-200 characters"),
        ("brånch", "non-ASCII"),
    ],
)
def test_branches_against_git_ref_rules_or_with_shell_characters_are_refused(
    branch: str, reason: str
) -> None:
    found = issues(from_source(repo_branch=branch))
    assert set(found) == {"/repo_branch"}
    assert reason in found["/repo_branch"]


@pytest.mark.parametrize("domain", ["app.example.com", "a.io", "x-1.example.org"])
def test_lowercase_hostnames_are_accepted(domain: str) -> None:
    assert parse_request(web_request(domain=domain)).domain == domain


@pytest.mark.parametrize("domain", ["App.example.com", "localhost", "a..io", "a.b\n", "-a.io"])
def test_other_domains_are_refused(domain: str) -> None:
    assert issues(web_request(domain=domain)) == {
        "/domain": "must be a lowercase hostname such as app.example.com"
    }


def test_bad_variable_names_are_listed_up_to_five() -> None:
    names = {f"{i}X": "v" for i in range(7)} | {"GOOD_1": "v", "_ok": "v"}
    message = issues(web_request(environment_vars=names))["/environment_vars"]
    assert message == "invalid variable names: '0X', '1X', '2X', '3X', '4X'"


@pytest.mark.parametrize("name", ["A-B", "A B", "", "Ä"])
def test_variable_names_outside_the_shell_rule_are_refused(name: str) -> None:
    message = issues(web_request(environment_vars={name: "v"}))["/environment_vars"]
    assert message == f"invalid variable names: {name!r}"


def test_a_variable_value_with_nul_names_the_variable() -> None:
    message = issues(web_request(environment_vars={"OK": "x", "BAD": "a\x00b"}))
    assert message["/environment_vars"].startswith("the value of BAD ")


# -- sdl given as something other than text --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"version": "2.0"}, "a mapping"),
        (["x"], "a list"),
        (True, "a boolean"),
        (2, "a number"),
        (2.5, "a number"),
        (b"version", "bytes"),
    ],
)
def test_an_sdl_that_is_not_text_says_what_it_is(value: Any, kind: str) -> None:
    assert issues({"name": "web", "sdl": value}) == {
        "/sdl": "must be the SDL document as text (a YAML string, e.g. `sdl: |` in YAML), "
        f"not {kind}"
    }


def test_an_sdl_request_is_checked_and_kept_as_given() -> None:
    request = parse_request({"name": "web", "sdl": SDL})
    assert request.workload is None
    assert request.base_sdl() == SDL


def test_an_sdl_issue_is_named_under_sdl_with_the_sdl_subject() -> None:
    broken = SDL.replace("image: nginx:1.27", "image: 'nginx latest'")
    error = refused({"name": "web", "sdl": broken})
    assert error.subject == "SDL"
    ((path, message),) = [(issue.path, issue.message) for issue in error.issues]
    assert path == "/sdl/services/web/image"
    assert message.startswith("invalid image reference: contains ' '")


def test_an_sdl_whose_root_is_wrong_is_named_as_sdl_itself() -> None:
    error = refused({"name": "web", "sdl": "- a list\n", "network": "cli"})
    assert error.subject == "SDL"
    assert error.issues == (FieldIssue("/sdl", "an SDL is a YAML mapping, not a list"),)


# Go reads "16GB" as no size at all and refuses it; Console's rules take it.
GO_REFUSES = SDL.replace("512Mi", "16GB")


def test_an_sdl_for_the_cli_is_checked_by_gos_rules() -> None:
    error = refused({"name": "web", "sdl": GO_REFUSES, "network": "cli"})
    assert error.subject == "SDL"
    assert [issue.path for issue in error.issues] == [
        "/sdl/profiles/compute/web/resources/memory/size"
    ]


@pytest.mark.parametrize("network", ["sandbox", "console"])
def test_an_sdl_for_console_or_the_sandbox_is_checked_by_consoles_rules(network: str) -> None:
    request = parse_request({"name": "web", "sdl": GO_REFUSES, "network": network})
    assert request.sdl == GO_REFUSES
    # and Console's own refusals carry Console's subject
    as_number = SDL.replace("size: 1Gi", "size: 1073741824")
    error = refused({"name": "web", "sdl": as_number, "network": network})
    assert error.subject == "SDL (Console rules)"
    assert error.issues == (
        FieldIssue("/sdl/profiles/compute/web/resources/storage/size", "must be a string"),
    )


# -- fields the workload form would drop -----------------------------------------------------


def test_sdl_with_environment_vars_or_domain_is_refused() -> None:
    data = {"name": "web", "sdl": SDL, "environment_vars": {"A": "1"}, "domain": "a.example.com"}
    error = refused(data)
    assert error.subject == "deployment request"
    assert {i.path: i.message for i in error.issues} == {
        "/environment_vars": "is not applied to a workload given as sdl: set the variables in "
        "the SDL (services.<name>.env), or give the workload as infra_spec or image",
        "/domain": "is not applied to a workload given as sdl: add the host to an expose's "
        "accept list in the SDL, or give the workload as infra_spec or image",
    }


def test_sdl_with_an_empty_environment_is_accepted() -> None:
    assert parse_request({"name": "web", "sdl": SDL, "environment_vars": {}}).sdl == SDL


def test_build_fields_without_repo_url_are_refused_each() -> None:
    data = web_request(repo_branch="dev", container_registry="ghcr.io/acme", build_commands=["x"])
    message = "is only used with repo_url, which is not given"
    assert issues(data) == {
        "/repo_branch": message,
        "/container_registry": message,
        "/build_commands": message,
    }


def test_the_default_branch_without_repo_url_is_not_a_choice() -> None:
    assert parse_request(web_request(repo_branch="main")).repo_branch == "main"
    assert parse_request(web_request(build_commands=[])).build_commands == ()


def test_build_fields_with_repo_url_are_kept() -> None:
    data = from_source(repo_branch="dev", build_commands=["make", ["npm", "run", "build"]])
    request = parse_request(data)
    assert request.repo_branch == "dev"
    assert request.build_commands == ("make", ("npm", "run", "build"))


def test_repo_url_needs_a_registry_and_no_image_or_sdl() -> None:
    bare = {"name": "web", "repo_url": "https://github.com/a/b"}
    assert set(issues(bare)) == {"/container_registry"}
    with_image = {**bare, "container_registry": "ghcr.io/acme", "image": "nginx:1.27"}
    assert set(issues(with_image)) == {"/image"}
    alone = parse_request({**bare, "container_registry": "ghcr.io/acme"})
    assert alone.infra_spec is None and alone.image is None


def test_an_infra_spec_built_from_source_names_the_service_that_runs_the_image() -> None:
    two = web_request(repo_url="https://github.com/a/b", container_registry="ghcr.io/acme")
    two["infra_spec"]["services"].append({"name": "cache", "image": "redis:7"})
    two["name"] = "site"
    assert set(issues(two)) == {"/infra_spec/services"}
    two["name"] = "web"
    built = parse_request(two).with_built_image("ghcr.io/acme/web@sha256:" + "a" * 64)
    assert built.infra_spec is not None
    images = {s.name: s.image for s in built.infra_spec.services}
    assert images == {"web": "ghcr.io/acme/web@sha256:" + "a" * 64, "cache": "redis:7"}


def test_string_build_commands_with_shell_syntax_need_build_shell() -> None:
    piped = from_source(build_commands=["make && make test"])
    assert "build_shell: true" in issues(piped)["/build_commands/0"]
    assert parse_request({**piped, "build_shell": True}).build_shell is True
    assert "/build_commands/0" in issues(from_source(build_commands=[[]]))
    assert "/build_commands/0" in issues(from_source(build_commands=["echo 'open"]))


@pytest.mark.parametrize("path", ["/etc/Dockerfile", "../Dockerfile", "a/../../Dockerfile"])
def test_a_dockerfile_outside_the_repository_is_refused(path: str) -> None:
    assert set(issues(from_source(dockerfile=path))) == {"/dockerfile"}


# -- strict flags and counts -----------------------------------------------------------------


def test_strict_messages_replace_pydantics_at_the_right_field() -> None:
    data = web_request("Bad", ssl="yes", redundancy=True, ttl=90.5)
    assert issues(data) == {
        "/name": "must be 1-63 lowercase letters, digits or '-', starting with a letter "
        "and not ending with '-'",
        "/ssl": "must be true or false (not yes/no/on/off, a number or a quoted string)",
        "/redundancy": "must be a whole number (not true/false, a quoted number or a time like "
        "1:20)",
        "/ttl": "must be a whole number (not true/false, a quoted number or a time like 1:20)",
    }


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (10, True), (11, False)])
def test_redundancy_bounds(value: int, ok: bool) -> None:
    data = web_request(redundancy=value)
    if ok:
        assert parse_request(data).redundancy == value
    else:
        assert set(issues(data)) == {"/redundancy"}


@pytest.mark.parametrize(
    ("value", "ok"), [(59, False), (60, True), (366 * 86400, True), (366 * 86400 + 1, False)]
)
def test_ttl_bounds(value: int, ok: bool) -> None:
    data = web_request(ttl=value)
    if ok:
        assert parse_request(data).ttl == value
    else:
        assert set(issues(data)) == {"/ttl"}


@pytest.mark.parametrize(
    ("value", "ok"), [(-1, False), (0, True), (10**15, True), (10**15 + 1, False)]
)
def test_deposit_bounds(value: int, ok: bool) -> None:
    data = web_request(deposit_uact=value)
    if ok:
        assert parse_request(data).deposit_uact == value
    else:
        assert set(issues(data)) == {"/deposit_uact"}


def test_limits_on_lists_and_maps() -> None:
    assert "/build_commands" in issues(from_source(build_commands=["x"] * 51))
    assert any(
        path.startswith("/build_commands/0") for path in issues(from_source(build_commands=[""]))
    )
    assert "/environment_vars" in issues(
        web_request(environment_vars={f"V{i}": "x" for i in range(201)})
    )
    too_long = issues(web_request(environment_vars={"V": "x" * 65537}))
    assert set(too_long) == {"/environment_vars/V"}


# -- budget ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "low_bad", "low_ok", "high_ok", "high_bad"),
    [
        ("max_uact_per_block", 0, Decimal("0.001"), 200_000_000, 200_000_001),
        ("max_deposit_uact", -1, 0, 10**15, 10**15 + 1),
        ("max_usd_per_month", 0, Decimal("0.01"), 10**9, 10**9 + 1),
    ],
)
def test_budget_bounds(field: str, low_bad: Any, low_ok: Any, high_ok: Any, high_bad: Any) -> None:
    for value in (low_ok, high_ok):
        assert getattr(parse_request(web_request(budget={field: value})).budget, field) == value
    for value in (low_bad, high_bad):
        assert set(issues(web_request(budget={field: value}))) == {f"/budget/{field}"}


def test_budget_spec_maps_to_the_marketplace_budget() -> None:
    spec = BudgetSpec(max_uact_per_block=Decimal(7), max_deposit_uact=Decimal(8),
                      max_usd_per_month=Decimal(9))  # fmt: skip
    assert spec.to_budget() == Budget(
        max_price_per_block=Decimal(7), max_deposit=Decimal(8), max_usd_per_month=Decimal(9)
    )
    assert BudgetSpec().to_budget() == Budget(
        max_price_per_block=None, max_deposit=None, max_usd_per_month=None
    )


def test_defaults() -> None:
    request = parse_request(web_request())
    assert (request.network, request.redundancy, request.if_running) == ("sandbox", 1, "update")
    assert (request.target_environment, request.cloud_provider) == ("production", "akash")
    assert (request.repo_branch, request.ssl, request.ttl, request.deposit_uact) == (
        "main",
        False,
        None,
        None,
    )


# -- the workload and its SDL ----------------------------------------------------------------


def test_an_image_becomes_one_service_named_for_the_request() -> None:
    request = parse_request({"name": "shop", "image": "nginx:1.27"})
    spec = request.workload
    assert spec is not None
    assert [s.name for s in spec.services] == ["shop"]
    assert spec.services[0].image == "nginx:1.27"
    assert [p.port for p in spec.services[0].ports] == [80]
    assert spec.max_price_uact == DEFAULT_MAX_PRICE_UACT == Decimal(100)


def test_port_aliases_reach_the_sdl_and_the_payload() -> None:
    data = web_request()
    data["infra_spec"]["services"][0]["ports"] = [{"port": 8080, "as": 80}]
    request = parse_request(data)
    (service,) = parse_sdl(request.base_sdl()).services.values()
    assert [(e.port, e.as_) for e in service.expose or []] == [(8080, 80)]
    (port,) = request_payload(request)["infra_spec"]["services"][0]["ports"]
    assert port["as"] == 80 and "as_" not in port


def test_infra_spec_is_the_workload_itself() -> None:
    request = parse_request(web_request())
    assert request.workload is request.infra_spec


def _two_services(**overrides: Any) -> dict[str, Any]:
    data = web_request(**overrides)
    data["infra_spec"]["services"] = [
        {"name": "worker", "image": "busybox:1.36", "env": {"MODE": "w"}},
        {"name": "web", "image": "nginx:1.27", "ports": [{"port": 80}, {"port": 81}]},
        {"name": "api", "image": "nginx:1.27", "ports": [{"port": 8080}]},
    ]
    return data


def test_environment_vars_reach_every_service_over_its_own() -> None:
    request = parse_request(_two_services(environment_vars={"MODE": "all", "X": "1"}))
    sdl = parse_sdl(request.base_sdl())
    for service in sdl.services.values():
        env = set(service.env or [])
        assert {"MODE=all", "X=1"} <= env
        assert "MODE=w" not in env


def test_the_domain_is_accepted_on_the_first_port_of_the_first_service_with_ports() -> None:
    request = parse_request(_two_services(domain="app.example.com"))
    sdl = parse_sdl(request.base_sdl())
    accepts = {
        (name, expose.port): list(expose.accept or [])
        for name, service in sdl.services.items()
        for expose in service.expose or []
    }
    assert accepts == {
        ("web", 80): ["app.example.com"],
        ("web", 81): [],
        ("api", 8080): [],
    }


def test_without_a_domain_no_host_is_added() -> None:
    sdl = parse_sdl(parse_request(_two_services()).base_sdl())
    assert all(not e.accept for s in sdl.services.values() for e in s.expose or [])


# -- the payload -----------------------------------------------------------------------------


def test_the_payload_validates_back_to_the_same_request_with_secrets_written_out() -> None:
    data = web_request(
        environment_vars={"A": "1"},
        budget={"max_usd_per_month": "12.5"},
        ttl=3600,
    )
    data["infra_spec"]["services"][0]["credentials"] = {
        "host": "ghcr.io",
        "username": "bot",
        "password": "s3cret",
    }
    request = parse_request(data)
    payload = request_payload(request)
    assert payload["infra_spec"]["services"][0]["credentials"]["password"] == "s3cret"
    assert "task_id" not in payload and "sdl" not in payload  # None is left out
    assert payload["budget"] == {"max_usd_per_month": "12.5"}
    assert isinstance(payload["infra_spec"]["services"], list)
    assert parse_request(payload) == request
    assert isinstance(request.infra_spec, object) and DeploymentRequest.model_validate(payload)


IDLE = {"probe": "/metrics#http_requests_total", "after": "30m"}


@pytest.mark.parametrize(
    ("after", "seconds"),
    [
        (60, 60),
        ("60s", 60),
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d12h", 129600),
        ("1h30m15s", 5415),
        (366 * 86400, 366 * 86400),
        ("366d", 366 * 86400),
    ],
)
def test_idle_after_takes_seconds_or_a_duration(after: Any, seconds: int) -> None:
    idle = parse_request(web_request(idle={**IDLE, "after": after})).idle
    assert idle is not None and idle.after == seconds


@pytest.mark.parametrize(
    ("after", "words"),
    [
        (59, "at least 60 s"),
        ("59s", "at least 60 s"),
        (366 * 86400 + 1, "at most 366 days"),
        ("367d", "at most 366 days"),
        ("", "a duration such as"),
        ("1h 30m", "a duration such as"),
        ("30m1h", "a duration such as"),
        ("-5m", "a duration such as"),
        ("1:00:00", "a duration such as"),
        (True, "whole number"),
        (90.5, "whole number"),
    ],
)
def test_idle_after_is_refused_outside_its_bounds_or_grammar(after: Any, words: str) -> None:
    found = issues(web_request(idle={**IDLE, "after": after}))
    assert list(found) == ["/idle/after"] and words in found["/idle/after"], found


@pytest.mark.parametrize(
    "probe",
    [
        "/metrics",
        "/metrics#http_requests_total",
        "/stats/requests?format=plain",
        "/a:b@c/%41",
        "/count#ns:requests_total",
    ],
)
def test_an_idle_probe_is_a_path_with_an_optional_metric(probe: str) -> None:
    idle = parse_request(web_request(idle={**IDLE, "probe": probe})).idle
    assert idle is not None and idle.probe == probe


@pytest.mark.parametrize(
    ("probe", "words"),
    [
        ("http://evil.example/metrics", "no scheme or host"),
        ("//evil.example/metrics", "no scheme or host"),
        ("metrics", "no scheme or host"),
        ("/a/../metrics", ". or .. path segments"),
        ("/./metrics", ". or .. path segments"),
        ("/metrics#1bad", "#metric_name"),
        ("/metrics#", "#metric_name"),
        ("/met rics", "%XX escapes"),
        ("/%zz", "%XX escapes"),
        ("/metrics\n", "%XX escapes"),
        ("/m#a#b", "#metric_name"),
    ],
)
def test_an_idle_probe_that_could_leave_the_deployment_or_not_parse_is_refused(
    probe: str, words: str
) -> None:
    found = issues(web_request(idle={**IDLE, "probe": probe}))
    assert list(found) == ["/idle/probe"] and words in found["/idle/probe"], found


def test_idle_after_must_be_shorter_than_the_ttl() -> None:
    assert parse_request(web_request(idle={**IDLE, "after": 1799}, ttl=1800)).idle is not None
    found = issues(web_request(idle={**IDLE, "after": 1800}, ttl=1800))
    assert (
        list(found) == ["/idle/after"] and "not shorter than ttl (1800 s)" in found["/idle/after"]
    )


@pytest.mark.parametrize(
    ("ports", "ok"),
    [
        ([{"port": 80}], True),
        ([{"port": 8080, "as": 80}], True),
        ([{"port": 5432}], False),
        ([{"port": 80, "global": False}, {"port": 5432}], False),  # 80 only inside
        ([{"port": 80, "proto": "udp"}], False),
    ],
)
def test_idle_needs_a_service_exposed_over_http(ports: list[dict[str, Any]], ok: bool) -> None:
    data = web_request(idle=IDLE)
    data["infra_spec"]["services"][0]["ports"] = ports
    if ok:
        assert parse_request(data).idle is not None
    else:
        assert set(issues(data)) == {"/idle"}
        assert "exposed to the world over HTTP" in issues(data)["/idle"]


def test_idle_with_an_sdl_is_checked_on_the_sdl() -> None:
    assert parse_request({"name": "web", "sdl": SDL, "idle": IDLE}).idle is not None
    tcp = SDL.replace("      - port: 80\n", "      - port: 80\n        proto: tcp\n")
    assert "proto: tcp" in tcp
    assert parse_request({"name": "web", "sdl": tcp, "idle": IDLE}).idle is not None
    private = SDL.replace("port: 80", "port: 5432")
    assert issues({"name": "web", "sdl": private, "idle": IDLE}) == {
        "/idle": "needs a service exposed to the world over HTTP (a TCP port exposed as 80 "
        "with global: true): the probe is read through the provider's HTTP ingress"
    }


def test_an_sdl_that_does_not_parse_is_named_for_itself_not_for_idle() -> None:
    broken = SDL.replace('version: "2.0"', 'version: "3.0"')
    assert set(issues({"name": "web", "sdl": broken, "idle": IDLE})) == {"/sdl/version"}


def test_idle_survives_the_task_payload() -> None:
    request = parse_request(web_request(idle=IDLE))
    assert parse_request(request_payload(request)) == request
    assert request_payload(request)["idle"] == {"probe": IDLE["probe"], "after": 1800}


def test_idle_on_a_repo_url_request_probes_the_built_image_on_port_80() -> None:
    data = {
        "name": "app",
        "repo_url": "https://github.com/org/app",
        "container_registry": "ghcr.io/org",
        "idle": IDLE,
    }
    assert parse_request(data).idle is not None


@pytest.mark.parametrize(
    "payload",
    [
        web_request(environment_vars={"MODE": "on", "RATIO": "1.50"}, domain="app.example.com"),
        {"name": "web", "image": "nginx:1.27"},
        {"name": "web", "sdl": SDL},
        {"name": "web", "image": "nginx:1.27", "domain": "app.example.com", "ssl": True,
         "ssl_termination": "sidecar"},
    ],
    ids=["infra_spec", "image", "sdl", "tls-sidecar"],
)  # fmt: skip
def test_the_base_sdl_data_is_what_loading_the_base_sdl_gives(payload: dict[str, Any]) -> None:
    import yaml

    request = parse_request(payload)
    data = request.base_sdl_data()
    assert data == yaml.load(request.base_sdl(), Loader=yaml.CSafeLoader)
    data["services"].clear()  # the caller's to change: the next call is built anew
    assert request.base_sdl_data()["services"]


BUILT = "ghcr.io/acme/site@sha256:" + "b" * 64
LOGIN = {"host": "ghcr.io", "username": "acme-bot", "password": "registry-pass-1"}


def test_a_request_built_from_source_alone_runs_its_image_as_one_web_service() -> None:
    request = parse_request(
        {"name": "site", "repo_url": "https://github.com/a/b", "container_registry": "ghcr.io/acme"}
    )
    built = request.with_built_image(BUILT)
    assert built.image is None and built.infra_spec is not None
    (service,) = built.infra_spec.services
    assert (service.name, service.image, service.credentials) == ("site", BUILT, None)
    assert [(p.port, p.as_) for p in service.ports] == [(80, None)]
    assert built.infra_spec.max_price_uact == 100
    private = request.with_built_image(BUILT, LOGIN)
    assert private.infra_spec is not None
    (login,) = [s.credentials for s in private.infra_spec.services]
    assert login is not None
    assert (login.host, login.username) == ("ghcr.io", "acme-bot")
    assert login.password.get_secret_value() == "registry-pass-1"


def test_a_built_image_with_a_login_gives_it_only_to_the_service_that_runs_it() -> None:
    two = web_request(repo_url="https://github.com/a/b", container_registry="ghcr.io/acme")
    two["infra_spec"]["services"].append({"name": "cache", "image": "redis:7"})
    built = parse_request(two).with_built_image(BUILT, LOGIN)
    assert built.infra_spec is not None
    logins = {s.name: s.credentials for s in built.infra_spec.services}
    assert logins["cache"] is None
    assert logins["web"] is not None and logins["web"].username == "acme-bot"
    public = parse_request(two).with_built_image(BUILT)
    assert public.infra_spec is not None
    assert all(s.credentials is None for s in public.infra_spec.services)


def with_port(**port: Any) -> dict[str, Any]:
    """A request for ``app.example.com`` whose first service ``web`` exposes ``port``.

    A second service exposes port 80 globally, so the workload itself is valid.
    """
    request = web_request(domain="app.example.com")
    request["infra_spec"]["services"][0]["ports"] = [port]
    request["infra_spec"]["services"].append(
        {"name": "api", "image": "nginx:1.27", "ports": [{"port": 80}]}
    )
    return request


@pytest.mark.parametrize(
    "port",
    [{"port": 8080}, {"port": 80, "proto": "udp"}, {"port": 80, "global": False}],
    ids=["not-80", "udp", "not-global"],
)
def test_a_domain_on_a_port_the_http_ingress_does_not_serve_is_refused(
    port: dict[str, Any],
) -> None:
    assert list(issues(with_port(**port)).values()) == [
        "domain goes to the first port of service web, which the provider's HTTP ingress does not "
        "serve: expose it global, over tcp, as 80 (ports: [{port: N, as: 80}]), or use ssl: true "
        "with ssl_termination: sidecar"
    ]


def test_a_domain_on_a_global_tcp_port_exposed_as_80_is_accepted() -> None:
    assert parse_request(with_port(port=8080, **{"as": 80})).domain == "app.example.com"
    assert parse_request(with_port(port=80)).domain == "app.example.com"


def test_build_field_issues_say_why() -> None:
    bare = {"name": "web", "repo_url": "https://github.com/a/b"}
    assert issues(bare)["/container_registry"] == (
        "is required with repo_url: where the built image is pushed for providers to pull (for "
        "example ghcr.io/org)"
    )
    image = issues({**bare, "container_registry": "ghcr.io/acme", "image": "nginx:1.27"})
    assert image["/image"].startswith("is not given with repo_url: the image is built from")
    assert image["/image"].endswith("whose service named like the request runs the built image)")
    assert issues(from_source(build_commands=[[]]))["/build_commands/0"] == (
        "must be a non-empty string or a non-empty list of strings (at most 4096 characters each)"
    )


def test_a_request_from_source_names_the_service_that_must_run_the_built_image() -> None:
    two = from_source(name="site")
    two["infra_spec"]["services"].append({"name": "cache", "image": "redis:7"})
    assert issues(two)["/infra_spec/services"] == (
        "with repo_url, one service must be named 'site' (the request's name): it runs the built "
        "image"
    )


def test_the_only_service_of_a_request_from_source_runs_the_built_image_whatever_its_name() -> None:
    built = parse_request(from_source(name="site")).with_built_image(BUILT)
    assert built.infra_spec is not None
    assert [(s.name, s.image) for s in built.infra_spec.services] == [("web", BUILT)]
