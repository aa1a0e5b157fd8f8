"""DeploymentRequest: what another agent (or a request file) asks the DeploymentAgent to do.

A request is untrusted input: :func:`parse_request` validates it completely, naming every bad
field, before anything costs money. The workload comes from exactly one of ``infra_spec`` (a
:class:`~minds371_akash.sdl.WorkloadSpec`), ``sdl`` (a full SDL document) or ``image`` (one
container with sensible defaults), or is built from ``repo_url`` (see
:mod:`minds371_deploy.building`): then it is one container running the built image, or an
``infra_spec`` whose service named like the request runs it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python

from minds371.errors import ConfigurationError, FieldIssue, ValidationError
from minds371.logging import register_secret
from minds371_akash import BidPolicy, Budget
from minds371_akash.sdl import (
    RegistryCredentials,
    WorkloadSpec,
    build_sdl,
    build_sdl_data,
    image_reference_problem,
    nul_problem,
    registry_name_problem,
    runnable_issues,
)
from minds371_deploy._request_file import MAX_REQUEST_BYTES, read_request_file
from minds371_deploy.building.commands import command_problem
from minds371_deploy.building.source import branch_problem, repo_url_problem

__all__ = [
    "DEFAULT_MAX_PRICE_UACT",
    "MAX_REQUEST_BYTES",
    "BudgetSpec",
    "DeploymentRequest",
    "IdleSpec",
    "load_request",
    "parse_request",
    "request_payload",
]

#: The per-block price cap of a workload given only as ``image`` (about 43 USD a month at most).
DEFAULT_MAX_PRICE_UACT = Decimal(100)
# Anchored with \Z, not $: in Python "$" also matches before a final newline ("web\n").
_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
# A repository URL with a password or token in it: https://user:token@host/...
_REPO_WITH_SECRET = re.compile(r"(https|ssh)://[^/@]*:[^/@]*@")
_HOST = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# An idle probe: an absolute path of RFC 3986 path characters (percent escapes well formed), an
# optional query of the same, and an optional ``#metric`` in Prometheus' metric-name grammar.
_PCHARS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_PROBE = re.compile(
    rf"(/{_PCHARS}*)+(\?(?:{_PCHARS}|[/?])*)?(#[a-zA-Z_:][a-zA-Z0-9_:]{{0,199}})?\Z"
)
_DURATION = re.compile(r"(?=\d)(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,8})s)?\Z")
#: The shortest and longest idle time a request may give, in seconds.
IDLE_AFTER_BOUNDS = (60, 366 * 86400)

#: Fields that only mean something with ``repo_url`` (building from source).
_BUILD_FIELDS = (
    "repo_branch",
    "container_registry",
    "build_commands",
    "build_shell",
    "build_timeout",
    "dockerfile",
)


def _build_command(value: Any, handler: pydantic.ValidatorFunctionWrapHandler) -> Any:
    # One plain message for a command of the wrong shape, not one per member of the union.
    try:
        return handler(value)
    except pydantic.ValidationError:
        raise ValueError(
            "must be a non-empty string or a non-empty list of strings (at most 4096 "
            "characters each)"
        ) from None


#: A build command: an argument list, or a string (split into words, or run by ``sh -c`` with
#: ``build_shell``).
BuildCommand = Annotated[
    Annotated[str, Field(min_length=1, max_length=4096)]
    | Annotated[
        tuple[Annotated[str, Field(max_length=4096)], ...], Field(min_length=1, max_length=200)
    ],
    WrapValidator(_build_command),
]


def _sdl_text(cls: Any, value: Any) -> Any:
    # One clear issue for an SDL given as a mapping or a number, not pydantic's "string_type".
    if value is not None and not isinstance(value, str):
        kind = (
            "a mapping"
            if isinstance(value, dict)
            else "a list"
            if isinstance(value, list)
            else "a boolean"
            if isinstance(value, bool)
            else "a number"
            if isinstance(value, int | float)
            else type(value).__name__
        )
        raise ValueError(
            f"must be the SDL document as text (a YAML string, e.g. `sdl: |` in YAML), not {kind}"
        )
    return value


class BudgetSpec(BaseModel):
    """Spending limits of a request, all optional.

    Attributes:
        max_uact_per_block: Highest total price per block of all leases, in uact.
        max_deposit_uact: Highest escrow deposit, in uact (the chain's minimum is 500,000).
        max_usd_per_month: Highest monthly cost in USD at the workload's maximum prices.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_uact_per_block: Decimal | None = Field(default=None, gt=0, le=10_000_000 * 20)
    max_deposit_uact: Decimal | None = Field(default=None, ge=0, le=10**15)
    max_usd_per_month: Decimal | None = Field(default=None, gt=0, le=10**9)

    def to_budget(self) -> Budget:
        """The marketplace's :class:`~minds371_akash.Budget`."""
        return Budget(
            max_price_per_block=self.max_uact_per_block,
            max_deposit=self.max_deposit_uact,
            max_usd_per_month=self.max_usd_per_month,
        )


class IdleSpec(BaseModel):
    """When a deployment nobody uses is closed (see ``docs/idle-and-ttl.md``).

    Attributes:
        probe: What the watcher reads, on the deployment's own HTTP endpoints: an absolute URL
            path whose body is a request counter (``/requests``), or a path serving Prometheus'
            text format and the name of a counter in it (``/metrics#http_requests_total``).
        after: How long the counter must stay unchanged before the deployment is closed:
            whole seconds, or a duration such as ``"90s"``, ``"30m"``, ``"2h"``, ``"1d12h"``
            (at least 60 s, at most 366 days).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    probe: Annotated[str, Field(strict=True, min_length=1, max_length=512)]
    # Validated to whole seconds; the schema says what a caller may send.
    after: Annotated[
        int,
        Field(strict=True),
        WithJsonSchema(
            {
                "anyOf": [
                    {
                        "type": "integer",
                        "minimum": IDLE_AFTER_BOUNDS[0],
                        "maximum": IDLE_AFTER_BOUNDS[1],
                    },
                    {"type": "string", "pattern": r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"},
                ],
                "description": "seconds, or a duration such as 90s, 30m, 2h, 1d12h",
            }
        ),
    ]

    @field_validator("probe")
    @classmethod
    def _probe(cls, value: str) -> str:
        # Only a path: the probe goes to the deployment's own endpoints, never to a host the
        # request names ("//host/x" is a URL of another host, so two slashes are refused).
        if value.startswith("//") or not value.startswith("/"):
            raise ValueError(
                "must be an absolute URL path such as /metrics#http_requests_total or "
                "/requests (no scheme or host: the deployment's own endpoints are probed)"
            )
        path = value.split("?", 1)[0].split("#", 1)[0]
        if any(part in (".", "..") for part in path.split("/")):
            raise ValueError("must not hold . or .. path segments")
        if not _PROBE.match(value):
            raise ValueError(
                "must be a URL path of letters, digits and -._~!$&'()*+,;=:@/ or %XX escapes, "
                "with an optional ?query and an optional #metric_name (Prometheus' grammar)"
            )
        return value

    @field_validator("after", mode="before")
    @classmethod
    def _after(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _DURATION.match(value.strip())
        if not value.strip() or match is None:
            raise ValueError("must be whole seconds or a duration such as 90s, 30m, 2h or 1d12h")
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60 + seconds

    @field_validator("after")
    @classmethod
    def _after_bounds(cls, value: int) -> int:
        low, high = IDLE_AFTER_BOUNDS
        if not low <= value <= high:
            raise ValueError(
                f"must be at least {low} s and at most {high // 86400} days (got {value} s)"
            )
        return value


class DeploymentRequest(BaseModel):
    """A request to deploy a workload on Akash, register it and keep it running.

    Attributes:
        task_id: The caller's id for the job (defaults to the task's id).
        name: Registry name other agents discover the service by.
        repo_url: Git repository to build from: ``https://``, ``ssh://`` or ``user@host:path``;
            ``http://`` or ``git://`` only to a loopback host; a local path only inside the
            operator's allow-list (checked when the build starts, before anything is spent).
        repo_branch: Branch (or tag) to build.
        container_registry: Registry location to push the built image to (``ghcr.io/org``),
            as ``<container_registry>/<name>:<commit>``; required with ``repo_url``.
        cloud_provider: Always ``akash``.
        infra_spec: The workload, typed.
        sdl: The workload as a full SDL document, instead of ``infra_spec``.
        image: The workload as a single container image, instead of either.
        domain: A hostname to serve the workload under (added to the ingress hosts).
        ssl: Serve ``domain`` over TLS (see ``ssl_termination``).
        ssl_termination: Who terminates TLS for ``domain`` (Akash providers do only for their
            own host names): ``dns_proxy``, the DNS provider's proxy (Cloudflare), or
            ``sidecar``, a Caddy sidecar on a leased IP. Default: ``dns_proxy`` when the DNS
            provider has one, else the request is refused (docs/domains.md).
        target_environment: ``production``, ``staging`` or ``development`` (recorded).
        build_commands: Commands to run in the cloned repository before building: argument
            lists, or strings split into words (never given to a shell, unless
            ``build_shell``).
        build_shell: Run string ``build_commands`` with ``sh -c``.
        build_timeout: Seconds each build command, the image build and the push may take.
        dockerfile: The Dockerfile to build, relative to the repository's root.
        environment_vars: Variables added to every service's environment.
        network: ``sandbox`` (the embedded local marketplace), ``console`` or ``cli``.
        redundancy: Placement groups, each leased from a different provider.
        bid_policy: Bid filters, ranking and waiting rule.
        budget: Spending limits, checked before anything spends.
        deposit_uact: Escrow deposit (default: the chain's minimum, 500,000 uact).
        ttl: Seconds the deployment should live; it is closed and its record expires after.
        idle: Close the deployment once its probe shows no activity for a while.
        if_running: When a deployment of this ``name`` already runs on this ``network`` (in this
            state directory): ``update`` it (in place when only the manifest changes, else by
            a replacement that takes over once ready), or deploy a ``new`` one beside it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    name: str
    repo_url: str | None = None
    repo_branch: str = "main"
    container_registry: str | None = None
    cloud_provider: Literal["akash"] = "akash"
    infra_spec: WorkloadSpec | None = None
    sdl: Annotated[str, Field(min_length=1, max_length=MAX_REQUEST_BYTES)] | None = None
    image: str | None = None
    domain: str | None = None
    # Strict: a YAML "yes" or a JSON 1 is not a flag, and `true` is not a count.
    ssl: Annotated[bool, Field(strict=True)] = False
    ssl_termination: Literal["dns_proxy", "sidecar"] | None = None
    target_environment: Literal["production", "staging", "development"] = "production"
    build_commands: tuple[BuildCommand, ...] = Field(default=(), max_length=50)
    build_shell: Annotated[bool, Field(strict=True)] = False
    build_timeout: Annotated[int, Field(ge=1, le=3600, strict=True)] = 900
    dockerfile: Annotated[str, Field(min_length=1, max_length=255)] = "Dockerfile"
    environment_vars: dict[str, Annotated[str, Field(max_length=65536)]] = Field(
        default_factory=dict, max_length=200
    )
    network: Literal["sandbox", "console", "cli"] = "sandbox"
    redundancy: Annotated[int, Field(ge=1, le=10, strict=True)] = 1
    bid_policy: BidPolicy = Field(default_factory=BidPolicy)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    deposit_uact: Decimal | None = Field(default=None, ge=0, le=10**15)
    ttl: Annotated[int, Field(ge=60, le=366 * 86400, strict=True)] | None = None
    idle: IdleSpec | None = None
    if_running: Literal["update", "new"] = "update"

    _sdl_is_text = field_validator("sdl", mode="before")(_sdl_text)

    @classmethod
    def secret_inputs(cls, raw: Any) -> list[str]:
        """Where raw fields carry a secret their schema cannot mark (paths, for tool hosts).

        That is an ``sdl`` document's registry logins (``services.<name>.credentials``, with a
        password) and a ``repo_url`` with a password or token in it. Tool hosts
        (``minds371.adapters``) refuse such arguments: secrets come from the configuration,
        never from a tool call.
        """
        from minds371_akash.sdl._yaml import load_yaml

        if not isinstance(raw, dict):
            return []
        url = raw.get("repo_url")
        found = ["/repo_url"] if isinstance(url, str) and _REPO_WITH_SECRET.match(url) else []
        text = raw.get("sdl")
        if not isinstance(text, str):
            return found
        try:
            document = load_yaml(text)
        except (ValidationError, ValueError):
            return found  # not an SDL at all: validation names the problem
        services = document.get("services") if isinstance(document, dict) else None
        if not isinstance(services, dict):
            return found
        return found + [
            f"/sdl/services/{name}/credentials"
            for name, service in services.items()
            if isinstance(service, dict) and "credentials" in service
        ]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be 1-63 lowercase letters, digits or '-', starting with a letter "
                "and not ending with '-'"
            )
        return value

    @field_validator("task_id")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("must be printable characters only")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        problem = None if value is None else image_reference_problem(value)
        if problem is not None:
            raise ValueError(f"invalid image reference: {problem}")
        return value

    @field_validator("container_registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        problem = None if value is None else registry_name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("repo_url")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        problem = None if value is None else repo_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("repo_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        problem = branch_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("dockerfile")
    @classmethod
    def _dockerfile(cls, value: str) -> str:
        parts = value.split("/")
        if value.startswith("/") or ".." in parts or not all(part.isprintable() for part in parts):
            raise ValueError("must be a path inside the repository, such as docker/Dockerfile")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError("must be a lowercase hostname such as app.example.com")
        return value

    @field_validator("environment_vars")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key in value if not _ENV_NAME.match(key)]
        if bad:
            raise ValueError(f"invalid variable names: {', '.join(map(repr, bad[:5]))}")
        for key, item in value.items():
            problem = nul_problem(item)
            if problem is not None:
                raise ValueError(f"the value of {key} {problem}")
        return value

    @model_validator(mode="after")
    def _one_workload(self) -> DeploymentRequest:
        given = [k for k in ("infra_spec", "sdl", "image") if getattr(self, k) is not None]
        if self.repo_url is not None:
            pass  # the built image is the workload: see _build_issues
        elif len(given) != 1:
            raise ValueError(
                "give exactly one of infra_spec, sdl or image"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.ssl and self.domain is None:
            raise ValueError("ssl needs a domain")
        if self.ssl_termination is not None and not self.ssl:
            raise ValueError("ssl_termination needs ssl: true")
        self._domain_port()
        return self

    @model_validator(mode="after")
    def _register_sdl_logins(self) -> DeploymentRequest:
        # A registry password inside an ``sdl`` text is under no secret-looking key of the
        # payload, so the runtime's payload scan cannot see it: register it here, on every
        # path that reads a request (deploy, resume, watch), before any step is stored.
        if self.sdl is not None and "password" in self.sdl:
            _register_logins_of(self.sdl)
        return self

    def _domain_port(self) -> None:
        """The port a domain goes to must be one the provider's HTTP ingress serves.

        A provider routes ``accept`` hosts only on a global TCP port exposed as 80; on any
        other port the host would be silently ignored and no DNS record could point at it. A
        TLS sidecar forwards to the port inside the deployment, so any port will do for it.
        """
        if self.domain is None or self.tls_sidecar:
            return
        if self.infra_spec is None and self.image is None:
            return  # an sdl (refused with domain), or a built image's one service on port 80
        spec = self.workload
        assert spec is not None
        service = next((s for s in spec.services if s.ports), None)
        if service is None:
            raise ValueError("domain needs a service with a port to serve it")
        port = service.ports[0]
        if port.proto != "tcp" or (port.as_ or port.port) != 80 or not port.global_:
            raise ValueError(
                f"domain goes to the first port of service {service.name}, which the "
                "provider's HTTP ingress does not serve: expose it global, over tcp, as 80 "
                "(ports: [{port: N, as: 80}]), or use ssl: true with ssl_termination: sidecar"
            )

    @property
    def tls_sidecar(self) -> bool:
        """Whether TLS for ``domain`` comes from a sidecar on a leased IP."""
        return self.ssl and self.ssl_termination == "sidecar"

    @property
    def domain_service(self) -> str | None:
        """The service ``domain`` reaches: the first with a port (the sidecar in front of it)."""
        spec = self.workload
        if self.domain is None or spec is None:
            return None
        if self.tls_sidecar:
            from minds371_deploy.domains.tls import SIDECAR_SERVICE

            return SIDECAR_SERVICE
        return next((s.name for s in spec.services if s.ports), None)

    @property
    def workload(self) -> WorkloadSpec | None:
        """The workload as a spec (``None`` when the request carries a full SDL).

        Raises:
            ConfigurationError: a ``repo_url`` request whose image is not built yet.
        """
        if self.infra_spec is not None:
            return self.infra_spec
        if self.image is None and self.repo_url is not None:
            raise ConfigurationError(
                "the workload of a repo_url request runs the image built from it: build it "
                "first (DeploymentAgent.clone_and_build)",
                details={"field": "/repo_url"},
            )
        if self.image is None:
            return None
        return WorkloadSpec.model_validate(
            {
                "services": [{"name": self.name, "image": self.image, "ports": [{"port": 80}]}],
                "max_price_uact": DEFAULT_MAX_PRICE_UACT,
            }
        )

    def with_built_image(
        self, reference: str, credentials: dict[str, str] | None = None
    ) -> DeploymentRequest:
        """This request running ``reference`` (the built image, by digest).

        Without ``infra_spec`` it is one service named like the request on port 80, as with
        ``image``; with one, the service named like the request (or its only service) runs it.
        ``credentials`` (a private registry's login) become that service's ``credentials``.
        """
        if self.infra_spec is None:
            service: dict[str, Any] = {
                "name": self.name,
                "image": reference,
                "ports": [{"port": 80}],
            }
            if credentials is not None:
                service["credentials"] = credentials
            spec = WorkloadSpec.model_validate(
                {"services": [service], "max_price_uact": DEFAULT_MAX_PRICE_UACT}
            )
        else:
            target = _built_service(self.infra_spec, self.name)
            services = [
                s.model_copy(
                    update={"image": reference}
                    | (
                        {}
                        if credentials is None
                        else {"credentials": RegistryCredentials.model_validate(credentials)}
                    )
                )
                if s.name == target
                else s
                for s in self.infra_spec.services
            ]
            spec = self.infra_spec.model_copy(update={"services": tuple(services)})
        return self.model_copy(update={"infra_spec": spec, "image": None})

    def base_sdl(self) -> str:
        """The workload as SDL, with ``environment_vars`` and ``domain`` applied.

        The domain becomes an ``accept`` host of the first service with a port; with a TLS
        sidecar it is the sidecar's instead (:func:`~minds371_deploy.domains.tls.add_tls_sidecar`).

        Raises:
            ValidationError: the resulting SDL would be invalid.
        """
        return self._base()[0]

    def base_sdl_key(self) -> str:
        """What :meth:`base_sdl` depends on: requests with equal keys have equal base SDLs.

        Every field but those known not to change the SDL (:data:`_NOT_IN_SDL`; the name
        too, unless the request is a bare ``image``, whose one service it names).
        """
        exclude = _NOT_IN_SDL if self.infra_spec is None and self.sdl is None else _NOT_IN_SDL_NAMED
        return self.model_dump_json(exclude=set(exclude))

    def base_sdl_data(self) -> dict[str, Any]:
        """:meth:`base_sdl` as the data safe YAML loading reads back from it, to be changed.

        Built along with the text when the request gives its workload as ``infra_spec`` or
        ``image`` (no YAML is parsed); read from the text otherwise.

        Raises:
            ValidationError: as :meth:`base_sdl`.
        """
        sdl, data = self._base(with_data=True)
        if data is None:
            from minds371_deploy._yaml import load_checked_sdl

            loaded: dict[str, Any] = load_checked_sdl(sdl)
            return loaded
        return data

    def _base(self, *, with_data: bool = False) -> tuple[str, dict[str, Any] | None]:
        """The base SDL, and (``with_data``, when built here without a sidecar) its data."""
        spec = self.workload
        if spec is None:
            assert self.sdl is not None
            return self.sdl, None
        document = spec.model_dump(by_alias=True)
        domain_placed = self.domain is None or self.tls_sidecar
        for service in document["services"]:
            service["env"] = {**service["env"], **self.environment_vars}
            if not domain_placed and service["ports"]:
                first = service["ports"][0]
                first["accept"] = (*first["accept"], self.domain)
                domain_placed = True
        if self.tls_sidecar:
            from minds371_deploy.domains.tls import add_tls_sidecar

            front = next((s.name for s in spec.services if s.ports), spec.services[0].name)
            assert self.domain is not None
            return add_tls_sidecar(build_sdl(document), self.domain, front), None
        if with_data:
            return build_sdl_data(document)
        return build_sdl(document), None


#: The fields :meth:`DeploymentRequest.base_sdl` does not read
#: (``tests/deploy/test_marker_templates.py`` changes each and compares).
_NOT_IN_SDL = frozenset(
    {
        "task_id",
        "repo_branch",
        "container_registry",
        "cloud_provider",
        "target_environment",
        "build_commands",
        "build_shell",
        "build_timeout",
        "dockerfile",
        "network",
        "redundancy",
        "bid_policy",
        "budget",
        "deposit_uact",
        "ttl",
        "idle",
        "if_running",
    }
)
_NOT_IN_SDL_NAMED = _NOT_IN_SDL | {"name"}


def _built_service(spec: WorkloadSpec, name: str) -> str | None:
    """The service of ``spec`` that runs a built image: the one named ``name``, or the only one."""
    names = [service.name for service in spec.services]
    if name in names:
        return name
    return names[0] if len(names) == 1 else None


def _build_issues(request: DeploymentRequest) -> list[FieldIssue]:
    """What is wrong with a ``repo_url`` request's workload and build fields."""
    if request.repo_url is None:
        return []
    issues = []
    for field in ("image", "sdl"):
        if getattr(request, field) is not None:
            issues.append(
                FieldIssue(
                    f"/{field}",
                    "is not given with repo_url: the image is built from the repository (for "
                    "resources, ports or more services give infra_spec, whose service named "
                    "like the request runs the built image)",
                )
            )
    if request.container_registry is None:
        issues.append(
            FieldIssue(
                "/container_registry",
                "is required with repo_url: where the built image is pushed for providers to "
                "pull (for example ghcr.io/org)",
            )
        )
    if request.infra_spec is not None and _built_service(request.infra_spec, request.name) is None:
        issues.append(
            FieldIssue(
                "/infra_spec/services",
                f"with repo_url, one service must be named {request.name!r} (the request's "
                "name): it runs the built image",
            )
        )
    for index, command in enumerate(request.build_commands):
        problem = command_problem(command, request.build_shell)
        if problem is not None:
            issues.append(FieldIssue(f"/build_commands/{index}", problem))
    return issues


def request_payload(request: DeploymentRequest) -> dict[str, Any]:
    """The request as a JSON-ready task payload that validates back to the same request.

    Unlike ``model_dump(mode="json")``, registry passwords are written out, not masked: the
    payload must carry them to the agent. (The runtime redacts them from logs and results.)
    """

    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {k: reveal(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [reveal(v) for v in value]
        return value

    raw = reveal(request.model_dump(mode="python", exclude_none=True, by_alias=True))
    payload: dict[str, Any] = to_jsonable_python(raw)
    return payload


def parse_request(data: Any) -> DeploymentRequest:
    """Validate untrusted request data, including everything that can be checked before spending.

    Beyond the fields' own rules: a field the chosen workload form would not apply is refused
    (with ``sdl``, ``environment_vars`` and ``domain``; without ``repo_url``, the build fields),
    and an ``sdl`` is parsed and checked as the deploy will (images, environment, storage
    classes, placement), its issues under ``/sdl``.

    Raises:
        ValidationError: naming every bad field (``subject="deployment request"``; an ``sdl``'s
            own issues with the SDL's subject, which says whose rules refused it).
    """
    if isinstance(data, DeploymentRequest):
        return data
    if not isinstance(data, dict):
        raise ValidationError(
            [FieldIssue("/", f"a deployment request is a mapping, not {type(data).__name__}")],
            subject="deployment request",
        )
    try:
        request = DeploymentRequest.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(_issues(exc), subject="deployment request") from None
    issues = _unapplied_fields(request) + _build_issues(request) + _idle_issues(request)
    if issues:
        raise ValidationError(issues, subject="deployment request")
    _check_sdl(request)
    return request


#: Plain words for the strict flags and counts (where YAML 1.1 and lax parsers would guess).
_STRICT_MESSAGES = {
    "bool_type": "must be true or false (not yes/no/on/off, a number or a quoted string)",
    "int_type": "must be a whole number (not true/false, a quoted number or a time like 1:20)",
    "int_from_float": "must be a whole number, without a fraction",
}


def _issues(exc: pydantic.ValidationError) -> list[FieldIssue]:
    issues = list(ValidationError.from_pydantic(exc).issues)
    for index, error in enumerate(exc.errors(include_url=False)):
        words = _STRICT_MESSAGES.get(error["type"])
        if words is not None:
            issues[index] = FieldIssue(issues[index].path, words)
    return issues


def _unapplied_fields(request: DeploymentRequest) -> list[FieldIssue]:
    """Fields the request gives but its workload form would silently drop."""
    issues = []
    if request.sdl is not None:
        if request.environment_vars:
            issues.append(
                FieldIssue(
                    "/environment_vars",
                    "is not applied to a workload given as sdl: set the variables in the SDL "
                    "(services.<name>.env), or give the workload as infra_spec or image",
                )
            )
        if request.domain is not None:
            issues.append(
                FieldIssue(
                    "/domain",
                    "is not applied to a workload given as sdl: add the host to an expose's "
                    "accept list in the SDL, or give the workload as infra_spec or image",
                )
            )
    if request.repo_url is None:
        for field in _BUILD_FIELDS:
            # A payload written back by request_payload carries the default branch: not a choice.
            value = getattr(request, field)
            if value and value != DeploymentRequest.model_fields[field].default:
                issues.append(
                    FieldIssue(f"/{field}", "is only used with repo_url, which is not given")
                )
    return issues


def _idle_issues(request: DeploymentRequest) -> list[FieldIssue]:
    """An idle probe nothing could answer, or an idle time the ttl makes moot."""
    if request.idle is None:
        return []
    issues = []
    if not _serves_http(request):
        issues.append(
            FieldIssue(
                "/idle",
                "needs a service exposed to the world over HTTP (a TCP port exposed as 80 "
                "with global: true): the probe is read through the provider's HTTP ingress",
            )
        )
    if request.ttl is not None and request.idle.after >= request.ttl:
        issues.append(
            FieldIssue(
                "/idle/after",
                f"is not shorter than ttl ({request.ttl} s), which closes the deployment first",
            )
        )
    return issues


def _serves_http(request: DeploymentRequest) -> bool:
    """Whether the workload has an HTTP ingress endpoint.

    True as well when its SDL does not parse: the SDL's own check then names what is wrong.
    """
    from minds371_akash.sdl import parse_sdl

    if request.repo_url is not None and request.infra_spec is None:
        return True  # the built image is deployed as ``image`` is: on port 80
    try:
        sdl = parse_sdl(request.base_sdl())
    except ValidationError:
        return True
    for service in sdl.services.values():
        for expose in service.expose or ():
            reaches_world = any(to.global_ for to in expose.to or ())
            tcp = expose.proto is None or expose.proto.upper() == "TCP"
            if reaches_world and tcp and (expose.as_ or expose.port) == 80:
                return True
    return False


def _check_sdl(request: DeploymentRequest) -> None:
    """Check an ``sdl`` by its network's rules, then by those that hold on every network.

    The network's rules are Console's on Console and the sandbox, Go's on the CLI; the error's
    subject says whose refused it. Issues are named under ``/sdl``.

    Raises:
        ValidationError: the SDL's issues (``subject`` ``"SDL"`` or Console's).
    """
    if request.sdl is None:
        return
    from minds371_deploy.redundancy import check_sdl, rules_for_network

    try:
        check_sdl(request.sdl, rules_for_network(request.network))
        issues = runnable_issues(request.sdl)
        subject = "SDL"
    except ValidationError as exc:
        issues, subject = list(exc.issues), exc.subject
    if issues:
        raise ValidationError(
            [FieldIssue(_under_sdl(i.path), i.message) for i in issues], subject=subject
        )


def _under_sdl(path: str) -> str:
    return "/sdl" + ("" if path in ("", "/") else path)


def load_request(path: str | Path) -> DeploymentRequest:
    """Read and validate a request file (YAML or JSON; the same fields).

    Raises:
        ValidationError: the file is missing, not a regular file, too large, not YAML/JSON,
            hostile, holds duplicate keys, or is not a valid request.
    """
    return parse_request(read_request_file(path))


def _register_logins_of(sdl: str) -> None:
    """Register the registry password of each service of ``sdl`` as a secret (if it parses)."""
    from minds371_akash.sdl import parse_sdl

    try:
        document = parse_sdl(sdl)
    except (ValidationError, ValueError):
        return  # the SDL's own check names what is wrong with it
    for service in document.services.values():
        if service.credentials is not None:
            register_secret(service.credentials.password)
