"""A generated corpus of hostile deployment requests, each refusable before anything is spent.

Every case is a request file (JSON or YAML) and the path of the field that must be named when it
is refused. Field cases mutate one field of a valid request (a workload given as ``image``,
``infra_spec`` or ``sdl``) to a value that must be refused; file cases are texts that must be
refused as a whole (duplicate keys, YAML 1.1 surprises, tags, hostile nesting, bad encodings).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import yaml

from tests.deploy.conftest import web_request

NUL = "\x00"


@dataclass(frozen=True)
class Case:
    """One hostile request file and the field its refusal must name."""

    label: str
    content: str | bytes
    suffix: str  # ".json" or ".yaml"
    path: str  # the refusal must name this field (its path, or its key for a JSON duplicate)


# Image references the kubelet cannot parse (distribution/reference), or that carry shell syntax.
BAD_IMAGES: list[Any] = [
    "NGINX",
    "Nginx:1.27",
    "ghcr.io/Org/app",
    "nginx:",
    "nginx:.hidden",
    "nginx:-dash",
    "nginx:" + "t" * 129,
    "nginx:tag with space",
    "$(id)",
    "nginx$(id)",
    "`id`",
    "nginx;id",
    "nginx|id",
    "nginx\nlatest",
    "nginx\r",
    "nginx\t",
    "nginx" + NUL,
    "'nginx'",
    '"nginx"',
    "nginx latest",
    " nginx",
    "nginx ",
    "a" * 64,
    "nginx@sha256:abc",
    "nginx@sha256:" + "A" * 64,
    "nginx@md5:" + "a" * 32,
    "nginx@",
    "a//b",
    "a..b",
    "a___b",
    "-nginx",
    "nginx-",
    "/nginx",
    "nginx/",
    "ngiñx",
    "registry.example.com:port/app",
    "x/" * 130 + "y",
    "",
    5,
    True,
    ["nginx"],
    {"image": "nginx"},
]

# Placement attribute values that match no provider (control characters, shell syntax).
BAD_ATTRIBUTE_VALUES: list[Any] = [
    "us-west\n",
    "us\nwest",
    "$(id)",
    "${HOME}",
    "`id`",
    "a\\b",
    "tab\there",
    NUL,
    " us-west",
    "us-west ",
    "x" * 256,
    "",
]
BAD_ATTRIBUTE_KEYS = ["a", "1region", "re gion", "région", "region\n", "$(id)", "r" * 129]

BAD_NAMES: list[Any] = [
    "",
    "Web",
    "web\n",
    "$(id)",
    "web;rm -rf /",
    "-web",
    "web-",
    "w" * 64,
    "wéb",
    "web_app",
    5,
    True,
    None,
    [],
]
BAD_COUNTS: list[Any] = [0, -1, True, False, "2", 1.5, "1:20", 10**30, None, [], {}]
BAD_FLAGS: list[Any] = ["yes", "no", "on", "off", "y", "true", 1, 0, None, [], "True"]
BAD_PRICES: list[Any] = [0, -1, True, "lots", "nan", "Infinity", 10**30, [], {}]


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(document)
    target: Any = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return result


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join(f"/{part}" for part in path)


def image_request() -> dict[str, Any]:
    return {"name": "web", "image": "nginx:1.27"}


def sdl_document() -> dict[str, Any]:
    return {
        "version": "2.0",
        "services": {
            "web": {
                "image": "nginx:1.27",
                "env": ["GREETING=hi"],
                "command": ["nginx"],
                "args": ["-g", "daemon off;"],
                "expose": [{"port": 80, "to": [{"global": True}]}],
                "params": {"storage": {"data": {"mount": "/data"}}},
            }
        },
        "profiles": {
            "compute": {
                "web": {
                    "resources": {
                        "cpu": {"units": 0.5},
                        "memory": {"size": "512Mi"},
                        "storage": [
                            {"size": "1Gi"},
                            {
                                "name": "data",
                                "size": "1Gi",
                                "attributes": {"persistent": True, "class": "beta2"},
                            },
                        ],
                    }
                }
            },
            "placement": {
                "dc": {
                    "attributes": {"region": "us-west"},
                    "pricing": {"web": {"denom": "uact", "amount": 100}},
                }
            },
        },
        "deployment": {"web": {"dc": {"profile": "web", "count": 1}}},
    }


def sdl_request(document: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    text = yaml.safe_dump(document if document is not None else sdl_document(), sort_keys=False)
    return {"name": "web", "sdl": text, **extra}


def _field_cases() -> list[tuple[str, dict[str, Any], str]]:
    """``(label, request, path)`` for every field of a request, and of its workload."""
    cases: list[tuple[str, dict[str, Any], str]] = []

    def each(base: dict[str, Any], path: tuple[Any, ...], values: list[Any]) -> None:
        for index, value in enumerate(values):
            label = f"{_pointer(path)}#{index}"
            cases.append((label, _set(base, path, value), _pointer(path)))

    image = image_request()
    spec = web_request()
    service = ("infra_spec", "services", 0)
    placement = ("infra_spec", "placement")

    # The request's own fields.
    each(image, ("image",), BAD_IMAGES)
    each(image, ("name",), BAD_NAMES)
    each(image, ("task_id",), ["", "a\nb", "x" * 129, 7, NUL, "\x1b[2J"])
    each(image, ("domain",), ["Example.com", "a..b.com", "$(id).com", "x.com\n", "-a.com", 5, ""])
    each(image, ("repo_url",), ["http://x/y", "https://x/$(id)", "file://etc/passwd", "ftp://x"])
    each(image, ("repo_branch",), ["..", "-x", "a b", "feature"])
    each(image, ("container_registry",), ["ghcr.io/Me", "$(id)", "x y", "ghcr.io/me", 5])
    each(image, ("build_commands",), [["make"], [""], "make", [5], ["x"] * 51])
    each(image, ("cloud_provider",), ["aws", 5, "", "AKASH"])
    each(image, ("network",), ["mainnet", "", 5, "SANDBOX", "sandbox\n"])
    each(image, ("target_environment",), ["prod", 1, ""])
    each(image, ("redundancy",), [*BAD_COUNTS, 11])
    each(image, ("ttl",), [59, True, "3600", 1.5, 10**12, "1:00:00", -60])
    each(image, ("idle",), ["30m", 1800, [], True])
    idle = {**image, "idle": {"probe": "/metrics#http_requests_total", "after": "30m"}}
    each(
        idle,
        ("idle", "probe"),
        [
            "http://evil.example/metrics",  # another host: only the deployment's own are probed
            "//evil.example/metrics",  # a scheme-relative URL names a host too
            "metrics",
            "/a/../metrics",
            "/metrics#1bad",
            "/metrics\n",
            "/met rics",
            "/%zz",
            "/m" + NUL,
            "/" + "m" * 600,
            "",
            5,
        ],
    )
    each(idle, ("idle", "after"), [59, "59s", True, "1:00:00", 1.5, "forever", "", "-5m", "400d"])
    each(idle, ("idle", "surprise"), [1])
    cases.append(("/idle/after#ttl", {**idle, "ttl": 1800}, "/idle/after"))
    # Nothing would answer the probe: no port reaches the provider's HTTP ingress.
    private = _set(spec, (*service, "ports"), [{"port": 5432}])
    cases.append(("/idle#no-http", {**private, "idle": idle["idle"]}, "/idle"))
    each(image, ("ssl",), [*BAD_FLAGS[:9]])
    each(image, ("deposit_uact",), [-1, 10**16, True, "nan", "abc", "Infinity", []])
    each(image, ("budget",), [5, [], "cheap", True])
    for field in ("max_usd_per_month", "max_uact_per_block", "max_deposit_uact"):
        each({**image, "budget": {}}, ("budget", field), [-1, True, "lots", "nan", 10**30])
    each({**image, "budget": {}}, ("budget", "surprise"), [1])
    each(image, ("bid_policy",), [5, "cheap", []])
    policy: dict[str, list[Any]] = {
        "max_price": [0, -5, True, "x"],
        "audited_only": ["yes", 1, "on"],
        # Lists of addresses must be lists of text (the addresses are matched as given).
        "allow_providers": ["x", [5], {}],
        "deny_providers": [[None], 5],
        "required_attributes": [
            *({"region": value} for value in BAD_ATTRIBUTE_VALUES),
            {"region": 5},
            [],
        ],
        "min_uptime": [2, -1, "high"],
        "enough_bids": [0, True, "3", 101],
        "uptime_weight": [-1, 11],
        "audit_weight": [1, -0.5],
        "bid_window_blocks": [-1, 1000],
        "distinct_providers": ["no", 0],
        "surprise": [1],
    }
    for field, values in policy.items():
        each({**image, "bid_policy": {}}, ("bid_policy", field), values)
    each(
        image,
        ("environment_vars",),
        [
            *({"A B": "x"}, {"1A": "x"}, {"A;B": "x"}, {"": "x"}, {"A": NUL}, {"A": "a\x00b"}),
            *({"A": 5}, {"A": None}, {"A": True}, [], "A=1"),
        ],
    )
    each(image, ("surprise",), [1])
    each(image, ("Name",), ["web"])

    # The workload as infra_spec.
    each(spec, ("infra_spec",), [5, "x", [], {}])
    each(spec, ("infra_spec", "services"), [[], 5, {}, [spec["infra_spec"]["services"][0]] * 21])
    each(spec, (*service, "name"), [n for n in BAD_NAMES if n is not None])
    each(spec, (*service, "image"), BAD_IMAGES)
    each(spec, (*service, "command"), [["sh", NUL], ["a\x00b"], "sh -c x", [5], [None]])
    each(spec, (*service, "args"), [[NUL], ["-c", "x\x00"], [True], 5])
    each(
        spec,
        (*service, "env"),
        [{"A": "\x00x"}, {"A": NUL}, {"1A": "v"}, {"A B": "v"}, {"A": 5}, ["A=1"], {"A=B": "v"}],
    )
    each(spec, (*service, "cpu"), [0, -1, True, "lots", "1:20", 10**9, [], "0m", "5m", None])
    each(spec, (*service, "memory"), ["1", "-1Mi", "1Zi", 5, "", "512mb", "3Ti", "1:20"])
    each(spec, (*service, "storage"), ["1", "0", 5, "100Ti", "1Ki", ""])
    each(spec, (*service, "count"), [*BAD_COUNTS, 51])
    each(
        spec,
        (*service, "ports"),
        [
            5,
            [{"port": 0}],
            [{"port": 70000}],
            [{"port": True}],
            [{"port": "80"}],
            [{"port": 1.5}],
            [{"port": 80, "proto": "http"}],
            [{"port": 80, "global": "yes"}],
            [{"port": 80, "global": 1}],
            [{"port": 80, "accept": ["Bad.com"]}],
            [{"port": 80, "accept": ["$(id).com"]}],
            [{"port": 80, "accept": ["a.com\n"]}],
            [{"port": 80, "accept": ["a.com", "a.com"]}],
            [{"port": 80, "as": 0}],
            [{"port": 80, "to": ["Web"]}],
            [{"port": 80, "surprise": 1}],
        ],
    )
    volume = {"name": "data", "size": "1Gi", "mount": "/data", "persistent": True, "class": "beta2"}
    volumes: list[Any] = [
        {**volume, "class": None},
        {key: value for key, value in volume.items() if key != "class"},
        {**volume, "class": "fast"},
        {**volume, "class": "BETA2"},
        {**volume, "persistent": "yes"},
        {**volume, "persistent": 1},
        {**volume, "mount": "data"},
        {**volume, "size": "1"},
        {**volume, "name": "Data"},
        {**volume, "class": "ram"},
        {**volume, "read_only": "no"},
        {**volume, "surprise": True},
    ]
    each(spec, (*service, "volumes"), [[v] for v in volumes] + [5, [5]])
    each(
        spec,
        (*service, "gpu"),
        [
            {"units": 0},
            {"units": True},
            {"units": 25},
            {"units": "1"},
            {"units": 1, "vendor": "amd"},
            {"units": 1, "models": [{"model": "a/b"}]},
            {"units": 1, "models": [{"model": "h100", "ram": "lots"}]},
            {"units": 1, "models": [{"model": "h100", "interface": "usb"}]},
            5,
        ],
    )
    each(
        spec,
        (*service, "credentials"),
        [
            {"host": "", "username": "u", "password": "p"},
            {"host": "ghcr.io", "username": "u"},
            {"host": "ghcr.io", "username": "u", "password": 5},
            {"host": "ghcr.io", "username": "", "password": "secret"},
            {"host": "ghcr.io\n", "username": "u", "password": "secret"},
            {"host": "ghcr .io", "username": "u", "password": "secret"},
            {"host": "ghcr.io", "username": "u\x00", "password": "secret"},
            "user:pass",
        ],
    )
    each(spec, (*service, "max_price_uact"), BAD_PRICES)
    each(spec, (*service, "surprise"), [1])
    each(spec, placement, [5, "us-west", []])
    placed = _set(spec, placement, {"region": "us-west"})
    each(
        placed,
        (*placement, "region"),
        ["us west", "$(id)", "a\nb", "", 5, "x" * 65, "-west", "us-west\x00", "ü"],
    )
    each(
        placed,
        (*placement, "attributes"),
        [{"tier": v} for v in BAD_ATTRIBUTE_VALUES]
        + [{k: "x"} for k in BAD_ATTRIBUTE_KEYS]
        + [{"tier": 5}, ["tier"]],
    )
    each(placed, (*placement, "name"), ["Bad", "", "$(id)", 5])
    each(placed, (*placement, "audited_only"), ["yes", 1, "on"])
    each(placed, (*placement, "signed_by_any_of"), [[""], "akash1x", [5]])
    each(placed, (*placement, "signed_by_all_of"), [[""], [None]])
    each(spec, ("infra_spec", "max_price_uact"), BAD_PRICES)
    each(spec, ("infra_spec", "surprise"), [1])

    # The workload as a full SDL: its issues are named under /sdl.
    sdl = sdl_document()
    web = ("services", "web")
    resources = ("profiles", "compute", "web", "resources")
    dc = ("profiles", "placement", "dc")

    def each_sdl(path: tuple[Any, ...], values: list[Any], where: str = "", **extra: Any) -> None:
        for index, value in enumerate(values):
            label = f"/sdl{_pointer(path)}#{index}"
            request = sdl_request(_set(sdl, path, value), **extra)
            cases.append((label, request, "/sdl" + (where or _pointer(path))))

    each_sdl((*web, "image"), [i for i in BAD_IMAGES if isinstance(i, str)])
    each_sdl((*web, "env"), [["A=" + NUL], ["A=a\x00b"], ["1A=x"], ["A B=x"], "A=1", [5]])
    each_sdl((*web, "command"), [[NUL], ["sh", "-c\x00"], "sh", [5]])
    each_sdl((*web, "args"), [["x\x00"], [True]])
    persistent = {"name": "data", "size": "1Gi", "attributes": {"persistent": True}}
    each_sdl(
        (*resources, "storage", 1),
        [
            persistent,
            {**persistent, "attributes": {"persistent": "true"}},
            {**persistent, "attributes": {"persistent": True, "class": "fast"}},
            {**persistent, "attributes": {"persistent": "maybe", "class": "beta2"}},
            {**persistent, "size": "1"},
        ],
    )
    each_sdl((*dc, "attributes", "region"), BAD_ATTRIBUTE_VALUES[:-1])
    for index, key in enumerate(BAD_ATTRIBUTE_KEYS):
        document = copy.deepcopy(sdl)
        document["profiles"]["placement"]["dc"]["attributes"] = {key: "x"}
        cases.append((f"/sdl/attribute-key#{index}", sdl_request(document), "/sdl" + _pointer(dc)))
    each_sdl((*dc, "pricing", "web", "amount"), [-1, "x", True, 10**8])
    # Console rewrites every denom to uact; the chain (the CLI's network) refuses others.
    each_sdl((*dc, "pricing", "web", "denom"), ["usd", "UACT", 5], network="cli")
    each_sdl((*resources, "cpu", "units"), [0, "lots", True, -1])
    each_sdl((*resources, "memory", "size"), ["1", "lots", 5])
    each_sdl(("version",), ["3.0", 2.0, None])
    each_sdl(("deployment", "web", "dc", "count"), [0, True, "1", 51], where="/")
    each_sdl((*web, "expose", 0, "port"), [0, 70000, "80"])
    each_sdl((*web, "expose", 0, "accept"), [["Bad.com"], ["$(id)"]])
    for index, text in enumerate(["{}", "5", "a: [", "- a\n- b", "true", "~", " ", "{a: 1}"]):
        cases.append((f"/sdl-text#{index}", {"name": "web", "sdl": text}, "/sdl"))
    for index, value in enumerate([{}, 5, [], True, {"version": "2.0"}]):
        cases.append((f"/sdl-type#{index}", {"name": "web", "sdl": value}, "/sdl"))

    # Fields a workload form would not apply are refused, naming them.
    with_env = sdl_request(environment_vars={"A": "1"})
    cases.append(("sdl+environment_vars", with_env, "/environment_vars"))
    cases.append(("sdl+domain", sdl_request(domain="app.example.com"), "/domain"))
    cases.append(("sdl+image", sdl_request(image="nginx"), "/"))
    cases.append(("image+infra_spec", {**spec, "image": "nginx"}, "/"))
    cases.append(("no workload", {"name": "web"}, "/"))
    return cases


def _file_cases() -> list[Case]:
    """Whole files that must be refused: duplicate keys, YAML 1.1 surprises, hostile shapes."""
    good = "name: web\nimage: nginx:1.27\n"
    texts: list[tuple[str, str | bytes, str, str]] = [
        ("dup top key", good + "name: web2\n", ".yaml", "/name"),
        ("dup budget", good + "budget: {max_usd_per_month: 1}\nbudget: {}\n", ".yaml", "/budget"),
        (
            "dup nested",
            good + "budget:\n  max_usd_per_month: 5\n  max_usd_per_month: 500\n",
            ".yaml",
            "/budget/max_usd_per_month",
        ),
        ("dup flow", "{name: web, image: nginx, name: x}", ".yaml", "/name"),
        ("dup json", '{"name": "web", "image": "nginx", "name": "x"}', ".json", "'name'"),
        (
            "dup json nested",
            '{"name": "web", "image": "nginx", "budget": {"max_usd_per_month": 1, '
            '"max_usd_per_month": 2}}',
            ".json",
            "'max_usd_per_month'",
        ),
        ("sexagesimal redundancy", good + "redundancy: 1:20\n", ".yaml", "/redundancy"),
        ("sexagesimal ttl", good + "ttl: 1:00:00\n", ".yaml", "/ttl"),
        ("yaml bool count", good + "redundancy: true\n", ".yaml", "/redundancy"),
        ("yes flag", good + "ssl: yes\ndomain: a.example.com\n", ".yaml", "/ssl"),
        ("on flag", good + "bid_policy: {audited_only: on}\n", ".yaml", "/bid_policy/audited_only"),
        ("binary image", "name: web\nimage: !!binary bmdpbng=\n", ".yaml", "/image"),
        ("binary name", "name: !!binary d2Vi\nimage: nginx\n", ".yaml", "/name"),
        ("python tag", "name: !!python/object/apply:os.system [id]\nimage: x\n", ".yaml", "/name"),
        ("set tag", good + "environment_vars: !!set {A, B}\n", ".yaml", "/environment_vars"),
        ("timestamp ttl", good + "ttl: 2001-12-14\n", ".yaml", "/ttl"),
        ("octal-looking count", good + "redundancy: 0o1x\n", ".yaml", "/redundancy"),
        ("alias bomb", _alias_bomb(), ".yaml", "/"),
        ("self alias", "a: &x [*x]\n", ".yaml", "/"),
        ("two documents", good + "---\n" + good, ".yaml", "/"),
        ("deep yaml list", "[" * 5000 + "]" * 5000, ".yaml", "/"),
        ("deep yaml map", "a: {" * 3000 + "}" * 3000, ".yaml", "deeper than 64"),
        (
            "deep yaml indent",
            "".join(" " * i + "a:\n" for i in range(200)),
            ".yaml",
            "deeper than 64",
        ),
        ("deep json", "[" * 100_000 + "]" * 100_000, ".json", "deeper than 64"),
        ("deep json parsed", '{"a":' * 500 + "1" + "}" * 500, ".json", "deeper than 64"),
        ("deep json list", "[" * 500 + "]" * 500, ".json", "deeper than 64"),
        ("json nan", '{"name": "web", "image": "nginx", "redundancy": NaN}', ".json", "/"),
        ("json infinity", '{"name": "web", "image": "nginx", "ttl": Infinity}', ".json", "/"),
        (
            "json huge int",
            '{"name": "web", "image": "x", "ttl": 1' + "0" * 5000 + "}",
            ".json",
            "/",
        ),
        ("json trailing", '{"name": "web", "image": "nginx"} x', ".json", "/"),
        ("json single quotes", "{'name': 'web'}", ".json", "/"),
        ("json list", '["web"]', ".json", "/"),
        ("yaml list", "- web\n", ".yaml", "/"),
        ("yaml scalar", "web\n", ".yaml", "/"),
        ("empty", "", ".yaml", "/"),
        ("whitespace", " \n\t\n", ".yaml", "/"),
        ("invalid utf-8", b"name: web\nimage: \xff\xfe\n", ".yaml", "/"),
        ("invalid utf-8 json", b'{"name": "\xff"}', ".json", "/"),
        ("binary garbage", bytes(range(256)) * 4, ".yaml", "/"),
        ("oversized", "name: web\nimage: nginx\n# " + "x" * 1_100_000, ".yaml", "/"),
        ("nul in yaml", "name: web\x00\nimage: nginx\n", ".yaml", "/"),
        ("complex key", "? [a, b]\n: 1\nname: web\n", ".yaml", "/"),
        ("unknown alias", "name: *nope\n", ".yaml", "/"),
    ]
    return [Case(label, content, suffix, path) for label, content, suffix, path in texts]


def _alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 12):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def corpus() -> list[Case]:
    """Every case: field cases alternate between JSON and YAML files; then the file cases."""
    cases = []
    for index, (label, request, path) in enumerate(_field_cases()):
        if index % 2:
            content = yaml.safe_dump(request, sort_keys=False, allow_unicode=True)
            cases.append(Case(label, content, ".yaml", path))
        else:
            cases.append(Case(label, json.dumps(request), ".json", path))
    return cases + _file_cases()
