"""``minds371 discover`` and ``minds371 registry history|verify``.

They use the same embedded registry as ``BlockchainRegistryProvider.default()`` (the state under
``$MINDS371_HOME``, trusted signers from the environment), read-only: no key is generated.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from minds371.cli import EXIT_FAILURE, EXIT_OK, print_json
from minds371.errors import FieldIssue, RegistryError, ValidationError

if TYPE_CHECKING:
    from minds371_registry.discovery import ProbeRoute
    from minds371_registry.models import ServiceRecord, VerifyReport
    from minds371_registry.provider import BlockchainRegistryProvider

__all__ = ["ProbeRouteSource", "add_probe_route_source", "register_cli"]

#: Opens extra probe routes for ``discover`` and closes them after (e.g. the in-process sandbox's
#: ingress, which the deploy plugin adds: the registry knows no marketplace).
ProbeRouteSource = Callable[[], AbstractAsyncContextManager["Sequence[ProbeRoute]"]]
_route_sources: list[ProbeRouteSource] = []


def add_probe_route_source(source: ProbeRouteSource) -> None:
    """Let ``minds371 discover`` probe some hosts through ``source``'s routes (see above)."""
    if source not in _route_sources:
        _route_sources.append(source)


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``discover`` and ``registry`` to the ``minds371`` command."""
    discover = sub.add_parser(
        "discover", help="resolve a service name to its verified endpoints, healthy ones first"
    )
    discover.add_argument("name", help="the registered service name")
    discover.add_argument("--json", action="store_true", help="print one JSON document")
    discover.add_argument(
        "--timeout", type=float, default=2.0, help="seconds per health probe (default 2)"
    )
    discover.set_defaults(handler=_discover)

    registry = sub.add_parser("registry", help="inspect and verify the deployment registry")
    commands = registry.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    history = commands.add_parser("history", help="every verified record of a service name")
    history.add_argument("name", help="the registered service name")
    history.add_argument("--json", action="store_true", help="print one JSON document")
    history.set_defaults(handler=_history)
    verify = commands.add_parser(
        "verify", help="walk the whole ledger; exit 1 and name the first bad entry if tampered"
    )
    verify.add_argument("--json", action="store_true", help="print one JSON document")
    content = verify.add_mutually_exclusive_group()
    content.add_argument(
        "--content",
        dest="content",
        action="store_true",
        default=True,
        help="check every metadata blob against its CID (the default)",
    )
    content.add_argument(
        "--no-content",
        dest="content",
        action="store_false",
        help="skip the metadata blobs (the output then says they were not checked)",
    )
    verify.set_defaults(handler=_verify)


def _provider(
    timeout: float = 2.0, routes: Sequence[ProbeRoute] = ()
) -> BlockchainRegistryProvider:
    # Imported here: building the parser (even for --version) must not load eth-account.
    from minds371_registry._settings import probe_private, probe_routes
    from minds371_registry.discovery import HealthChecker
    from minds371_registry.provider import BlockchainRegistryProvider

    health = HealthChecker(
        timeout=timeout,
        cache_ttl=0,
        routes=[*probe_routes(), *routes],
        allow_private=probe_private(),
    )
    return BlockchainRegistryProvider.default(read_only=True, health=health)


async def _discover(args: argparse.Namespace) -> int:
    from minds371_registry.provider import check_name

    name = check_name(args.name)
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise ValidationError([FieldIssue("/timeout", "must be a number of seconds above 0")])
    async with AsyncExitStack() as stack:
        routes: list[ProbeRoute] = []
        for source in _route_sources:
            routes.extend(await stack.enter_async_context(source()))
        registry = await stack.enter_async_context(_provider(args.timeout, routes))
        if not registry.trusted_signers:
            raise RegistryError(
                f"no deployment named {name!r} is registered from this home (it has no signing "
                "key yet: nothing was deployed from it); deploy first, point MINDS371_HOME at "
                "the home that deployed it, or set MINDS371_REGISTRY_TRUSTED to the addresses "
                "whose records you trust"
            )
        resolved = await registry.resolve(name)
        results = await registry.health.check_all(resolved.endpoints)
    if resolved.retired:
        return _retired(resolved, as_json=args.json)
    healthy = any(r.healthy for r in results)
    if args.json:
        print_json(
            {
                "name": resolved.name,
                "sequence": resolved.sequence,
                "record_id": resolved.record_id,
                "signer": resolved.signer,
                "metadata_cid": resolved.record.metadata_cid,
                "status": "active",
                "healthy": healthy,
                "endpoints": [r.model_dump() for r in results],
            }
        )
    else:
        print(f"{resolved.name} #{resolved.sequence} signed by {resolved.signer}", file=sys.stderr)
        for result in results:
            state = "up  " if result.healthy else "down"
            why = f"HTTP {result.status}" if result.healthy and result.status else result.error
            print(f"{state}  {result.url}  ({why or 'ok'}, {result.latency_ms} ms)")
    if not healthy:
        if not args.json:
            print(
                f"minds371: error: no endpoint of {name!r} answers; `minds371 status "
                f"{resolved.record.dseq} --network {resolved.record.network}` shows why",
                file=sys.stderr,
            )
        return EXIT_FAILURE
    return EXIT_OK


def _retired(resolved: ServiceRecord, *, as_json: bool) -> int:
    """A retired name: say so, list nothing, exit 1 (there is nothing to connect to)."""
    record = resolved.record
    if as_json:
        print_json(
            {
                "name": resolved.name,
                "sequence": resolved.sequence,
                "record_id": resolved.record_id,
                "signer": resolved.signer,
                "metadata_cid": record.metadata_cid,
                "status": "retired",
                "healthy": False,
                "endpoints": [],
            }
        )
    else:
        print(f"{resolved.name} #{resolved.sequence} signed by {resolved.signer}", file=sys.stderr)
        print(f"retired  (deployment {record.dseq} on {record.network} was closed)")
    return EXIT_FAILURE


async def _history(args: argparse.Namespace) -> int:
    from minds371_registry.provider import check_name

    name = check_name(args.name)
    async with _provider() as registry:
        entries = await registry.history(name)
    if args.json:
        print_json(
            {
                "name": name,
                "records": [
                    {
                        "record_id": e.record_hash,
                        "location": e.location,
                        **e.record.model_dump(mode="json"),
                    }
                    for e in entries
                ],
            }
        )
        return EXIT_OK
    if not entries:
        print(f"no records for {name!r}", file=sys.stderr)
    for entry in entries:
        record = entry.record
        issued = datetime.fromtimestamp(record.issued_at, UTC).isoformat(timespec="seconds")
        serves = "retired" if record.retired else " ".join(record.endpoints)
        print(
            f"#{record.sequence}  {issued}  dseq {record.dseq}  {record.network}  "
            f"{serves}  metadata {record.metadata_cid}  signer {record.signer}"
        )
    return EXIT_OK


async def _verify(args: argparse.Namespace) -> int:
    async with _provider() as registry:
        report = await registry.verify(check_content=args.content)
    if args.json:
        print_json(report.model_dump())
    elif report.ok:
        print(
            f"ok: {report.entries} entries, {report.names} names verified "
            f"({report.ledger} ledger, {report.seconds:.3f} s)",
            file=sys.stderr,
        )
        print(f"  {_checked(report)}", file=sys.stderr)
    else:
        where = f"entry {report.position}" if report.position is not None else "an entry"
        record = f" ({report.name}#{report.sequence})" if report.name else ""
        print(
            f"minds371: ledger verification failed at {where}{record}: "
            f"{report.error}: {report.problem}",
            file=sys.stderr,
        )
    return EXIT_OK if report.ok else EXIT_FAILURE


def _checked(report: VerifyReport) -> str:
    """What the walk covered, and what it did not."""
    done = ["entry hashes and links", "signatures and signers", "each name's chain"]
    skipped = []
    if report.head_checked:
        done.append("the signed head")
    elif report.ledger != "evm":
        skipped.append("no signed head (empty ledger)")
    if report.content_checked:
        done.append("metadata against CIDs")
    else:
        skipped.append("metadata NOT checked against CIDs (--no-content)")
    return "checked: " + ", ".join(done) + ("; " + "; ".join(skipped) if skipped else "")
