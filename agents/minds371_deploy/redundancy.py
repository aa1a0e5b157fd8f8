"""Redundancy: N copies of the services, each leased from a different provider.

How the copies are laid out depends on what the network lets an owner do after one of them is
lost:

* ``cli``: one deployment with N placement groups. Each group gets its own order on Akash, so
  each can be leased from a different provider (the bid policy's ``distinct_providers``); when a
  lease is lost, Akash reopens that group's order and the watcher leases it again with
  ``MsgCreateLease`` while the other groups keep serving.
* Console (the ``console`` and ``sandbox`` networks): one single-group deployment per copy (a
  *replica*). ``POST /v1/leases`` skips lease creation while any lease of the deployment is
  active (``console:apps/api/src/deployment/services/lease/lease.service.ts``,
  ``#hasActiveLease``), so one lost group of a live multi-group deployment could never be
  leased again there. A replica's deployment has no other lease, so its group is re-leased on
  its own, and closing or replacing it never touches the others. Each replica's SDL carries
  ``MINDS371_REPLICA=<n>``, so each has its own manifest version, by which an interrupted
  create is found again.
"""

from __future__ import annotations

from typing import Any, Literal

from minds371.errors import FieldIssue, ValidationError
from minds371_akash.sdl import check_console_sdl, console_rules_data, parse_sdl
from minds371_deploy._yaml import dump_sdl, load_checked_sdl

__all__ = [
    "REPLICA_ENV",
    "Layout",
    "check_sdl",
    "layout_for",
    "replicate_placements",
    "rules_for_network",
    "with_replica_marker",
]

#: Set in every service's environment of replica ``n`` (Console layout): its own version hash.
REPLICA_ENV = "MINDS371_REPLICA"

#: ``groups``: N placement groups in one deployment; ``deployments``: one deployment per copy.
Layout = Literal["groups", "deployments"]
Rules = Literal["go", "console"]


def rules_for_network(network: str) -> Rules:
    """Whose SDL rules ``network`` applies: Go's on the CLI, Console's on Console and sandbox.

    The sandbox serves the Console API, and builds manifests as Console does.
    """
    return "go" if network == "cli" else "console"


def layout_for(network: str) -> Layout:
    """How copies are laid out on ``network`` (see the module docs)."""
    return "groups" if network == "cli" else "deployments"


def check_sdl(sdl: str, rules: Rules, *, prepared_next: bool = False) -> None:
    """Validate ``sdl`` by the network's rules before anything is spent.

    ``prepared_next``: this very text is prepared for deployment next (``prepare_sdl``), which
    then reads the data this check loaded instead of loading it again
    (:func:`~minds371_akash.sdl.check_console_sdl`).

    Raises:
        ValidationError: naming every issue; its subject says whose rules refused it.
    """
    if rules == "console":
        if prepared_next:
            check_console_sdl(sdl)
        else:
            console_rules_data(sdl)
    else:
        parse_sdl(sdl)


def with_replica_marker(sdl: str, replica: int) -> str:
    """Add ``MINDS371_REPLICA=<replica>`` to every service's env (see :data:`REPLICA_ENV`)."""
    document = load_checked_sdl(sdl)
    for service in document["services"].values():
        env = [e for e in service.get("env") or [] if not str(e).startswith(f"{REPLICA_ENV}=")]
        service["env"] = [*env, f"{REPLICA_ENV}={replica}"]
    return dump_sdl(document)


def replicate_placements(sdl: str, copies: int, *, rules: Rules = "go") -> str:
    """Return ``sdl`` with every placement group copied ``copies`` times (``name-1`` ...).

    With ``copies == 1`` the SDL is returned unchanged (once valid).

    Raises:
        ValidationError: the SDL is invalid by ``rules``, or the copies break a limit.
    """
    check_sdl(sdl, rules)  # validated (and size-limited) before it is loaded again below
    if copies == 1:
        return sdl
    document: dict[str, Any] = load_checked_sdl(sdl)
    placements: dict[str, Any] = document["profiles"]["placement"]
    renamed = {name: [f"{name}-{index}" for index in range(1, copies + 1)] for name in placements}
    document["profiles"]["placement"] = {
        copy: placements[name] for name, names in renamed.items() for copy in names
    }
    for service, targets in document["deployment"].items():
        document["deployment"][service] = {
            copy: target for name, target in targets.items() for copy in renamed[name]
        }
    replicated = dump_sdl(document)
    try:
        check_sdl(replicated, rules)
    except ValidationError as exc:
        raise ValidationError(
            [FieldIssue("/redundancy", f"{copies} copies make an invalid SDL: {exc.message}")],
            subject="deployment request",
        ) from None
    return replicated
