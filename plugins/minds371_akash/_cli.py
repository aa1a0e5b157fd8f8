"""``minds371 bids|status|logs|events|close DSEQ``: look at and close deployments on a network.

Every command takes ``--network sandbox|console|cli`` (default ``sandbox``: the in-process
sandbox whose world is kept in ``$MINDS371_HOME/sandbox/world.json``, or the served one at
``MINDS371_SANDBOX_URL``) and ``--json`` (one JSON document on stdout). Human-readable output
goes to stderr; log lines and events go to stdout (they are the command's data, as with
``kubectl logs``). With ``--follow --json``, each line is one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from minds371.cli import EXIT_OK, print_json
from minds371.config import home, private_dir
from minds371.errors import FieldIssue, ValidationError

if TYPE_CHECKING:
    from minds371_akash.market import Deployment, Runway

__all__ = ["register_cli"]


def _dseq(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or len(text) > 20 or int(text) >= 2**64:
        raise ValidationError(
            [FieldIssue("/dseq", f"must be a positive integer below 2^64, got {value[:40]!r}")],
            subject="command line",
        )
    return int(text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dseq", help="the deployment sequence number")
    parser.add_argument(
        "--network",
        default="sandbox",
        choices=("sandbox", "console", "cli"),
        help="where the deployment lives (default: sandbox)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


@asynccontextmanager
async def _provider(args: argparse.Namespace) -> AsyncIterator[Any]:
    from minds371_akash.market import NotFound
    from minds371_akash.networks import open_backend
    from minds371_akash.provider import AkashIntegrationProvider

    state = home() / "sandbox" / "world.json"
    private_dir(state.parent)
    try:
        async with open_backend(args.network, sandbox_state=state) as backend:
            async with AkashIntegrationProvider(backend) as akash:
                yield akash
    except NotFound as exc:
        # Said in words, with what to do; the HTTP call stays in the details.
        raise NotFound(
            f"deployment {args.dseq} was not found on the {args.network} network "
            "(it may belong to another sandbox, network or account); "
            "`minds371 list --all` shows the deployments this home knows",
            details=exc.details,
        ) from None


_AMOUNTS = frozenset({"amount", "funds", "transferred"})


def _plain_amounts(doc: Any) -> Any:
    """Amounts as people write them (``6.9``), as everywhere else, not with 18 decimals."""
    from decimal import Decimal, InvalidOperation

    from minds371_akash.market._models import plain_decimal

    if isinstance(doc, list):
        return [_plain_amounts(item) for item in doc]
    if not isinstance(doc, dict):
        return doc
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _AMOUNTS and isinstance(value, str):
            try:
                value = plain_decimal(Decimal(value))
            except InvalidOperation:
                pass
        out[key] = _plain_amounts(value)
    return out


def _say(text: str) -> None:
    print(text, file=sys.stderr)


async def _bids(args: argparse.Namespace) -> int:
    dseq = _dseq(args.dseq)
    async with _provider(args) as akash:
        rankings = await akash.bids(dseq)
    if args.json:
        print_json(
            [
                {
                    "gseq": group.gseq,
                    "oseq": group.oseq,
                    "provider": ranked.bid.provider,
                    "state": ranked.bid.state,
                    "price": {
                        "denom": ranked.bid.price.denom,
                        "amount": ranked.bid.price.plain,
                    },
                    "eligible": ranked.eligible,
                    "reason": ranked.reason,
                }
                for group in rankings
                for ranked in group.ranked
            ]
        )
        return EXIT_OK
    if not rankings:
        _say(f"no open bids on deployment {dseq}")
    for group in rankings:
        _say(f"gseq {group.gseq} oseq {group.oseq}:")
        for ranked in group.ranked:
            _say(f"  {ranked.reason}")
    return EXIT_OK


async def _status(args: argparse.Namespace) -> int:
    from minds371_deploy._holders import holders_of

    dseq = _dseq(args.dseq)
    # A redundant service's replicas 2…N (Console's layout) are deployments of their own: the
    # status of the service is theirs too, as this home's state records them.
    replicas = {
        r: d
        for _, state in await holders_of(dseq, args.network)
        for r, d in state.open_replicas().items()
    }
    async with _provider(args) as akash:
        deployment = await akash.status(dseq)
        runway = await akash.runway(deployment)
        others: dict[int, tuple[Deployment, Runway | None]] = {}
        for replica, replica_dseq in sorted(replicas.items()):
            other = await akash.status(replica_dseq)
            others[replica] = (other, await akash.runway(other))
    if args.json:
        doc = _status_doc(deployment, runway)
        if others:
            doc["replicas"] = [
                {"replica": replica, **_status_doc(other, other_runway)}
                for replica, (other, other_runway) in others.items()
            ]
        print_json(doc)
        return EXIT_OK
    _say_status(deployment, runway)
    for replica, (other, other_runway) in others.items():
        _say(f"replica {replica} of this service:")
        _say_status(other, other_runway)
    return EXIT_OK


def _status_doc(deployment: Deployment, runway: Runway | None) -> dict[str, Any]:
    doc: dict[str, Any] = _plain_amounts(deployment.model_dump(mode="json"))
    doc["dseq"] = str(deployment.dseq)
    doc["endpoints"] = [e.model_dump(mode="json") for e in deployment.endpoints()]
    doc["runway"] = runway.to_dict() if runway is not None else None
    return doc


def _say_status(deployment: Deployment, runway: Runway | None) -> None:
    endpoints = deployment.endpoints()
    _say(f"deployment {deployment.dseq}: {deployment.state} (owner {deployment.owner})")
    if deployment.escrow is not None:
        escrow = deployment.escrow
        _say(f"  escrow {escrow.state}: {escrow.funds.normalize():f} {escrow.denom} left")
    if runway is not None and runway.hours is not None:
        _say(
            f"  runway: {runway.hours:g} h ({runway.blocks} blocks at "
            f"{runway.rate.normalize():f} uact/block)"
        )
    for lease in deployment.leases:
        ready = ""
        if lease.status is not None:
            done, total = lease.status.ready_count
            ready = f", {done}/{total} services ready"
        elif lease.active:
            ready = ", no status from the provider"
        _say(
            f"  lease gseq {lease.id.gseq} oseq {lease.id.oseq} on {lease.id.provider}: "
            f"{lease.state}{f' ({lease.reason})' if lease.reason else ''}, "
            f"{lease.price.amount.normalize():f} {lease.price.denom}/block{ready}"
        )
    for endpoint in endpoints:
        _say(f"  {endpoint.service}: {endpoint.url}")


def _emit_line(args: argparse.Namespace, doc: dict[str, Any], text: str) -> None:
    sys.stdout.write((json.dumps(doc) if args.json else text) + "\n")
    sys.stdout.flush()


async def _logs(args: argparse.Namespace) -> int:
    dseq = _dseq(args.dseq)
    services = [s for s in (args.service or "").split(",") if s]
    if args.tail is not None and args.tail < -1:
        raise ValidationError(
            [FieldIssue("/tail", "must be -1 (all) or more")], subject="command line"
        )
    async with _provider(args) as akash:
        if args.follow:

            def show(lease: Any, line: Any) -> None:
                doc = {"gseq": lease.id.gseq, "name": line.name, "message": line.message}
                _emit_line(args, doc, f"[{line.service}] {line.message}")

            await akash.stream_logs(dseq, show, services=services, tail=args.tail)
            return EXIT_OK
        lines = [
            {"gseq": lease.id.gseq, "name": line.name, "message": line.message}
            async for lease, line in akash.logs(dseq, services=services, tail=args.tail)
        ]
    if args.json:
        print_json(lines)
    else:
        for item in lines:
            service = item["name"].rsplit("-", 2)[0]
            sys.stdout.write(f"[{service}] {item['message']}\n")
    return EXIT_OK


async def _events(args: argparse.Namespace) -> int:
    dseq = _dseq(args.dseq)
    async with _provider(args) as akash:
        events = [
            {"gseq": lease.id.gseq, **event.model_dump(mode="json")}
            async for lease, event in akash.events(dseq)
        ]
    if args.json:
        print_json(events)
    else:
        for e in events:
            sys.stdout.write(f"{e['type']:<8} {e['reason']:<16} {e['name']}: {e['note']}\n")
    return EXIT_OK


async def _close(args: argparse.Namespace) -> int:
    from minds371_deploy._closing import close_with_replicas, record_closes
    from minds371_deploy._retire import retire_closed

    dseq = _dseq(args.dseq)
    async with _provider(args) as akash:
        closed = await close_with_replicas(akash, dseq, args.network)
    # Discovery must stop pointing at it: retire the registry records of this deployment (and
    # remove its domain's DNS record) before its task is journaled as closed.
    retired = await retire_closed(dseq, args.network, holders=closed.holders)
    await record_closes(closed)
    if args.json:
        print_json(
            {
                "dseq": str(dseq),
                "closed": True,
                "replicas_closed": [str(d) for d in closed.replicas],
                "replicas_not_closed": {str(d): e for d, e in closed.failed.items()},
                "retired": retired,
                "journaled": bool(closed.journaled),
            }
        )
        return EXIT_OK
    _say(f"deployment {dseq} closed")
    for replica in closed.replicas:
        _say(f"replica deployment {replica} of the same service closed")
    for replica, error in closed.failed.items():
        _say(
            f"replica deployment {replica} could not be closed ({error}); "
            f"run `minds371 close {replica}`"
        )
    for name in retired:
        _say(f"registry record of {name!r} retired")
    if closed.journal_left is not None:
        _say("a running minds371 runtime holds this home's state: its watcher records the close")
    return EXIT_OK


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bids``, ``status``, ``logs``, ``events`` and ``close`` to the ``minds371`` command."""
    bids = sub.add_parser("bids", help="list a deployment's bids, ranked, with reasons")
    _common(bids)
    bids.set_defaults(handler=_bids)

    status = sub.add_parser("status", help="show a deployment, its leases and endpoints")
    _common(status)
    status.set_defaults(handler=_status)

    logs = sub.add_parser("logs", help="print a deployment's logs")
    _common(logs)
    logs.add_argument("--follow", "-f", action="store_true", help="keep following new lines")
    logs.add_argument("--tail", type=int, default=None, help="only the last N lines per pod")
    logs.add_argument("--service", default=None, help="only these services (comma list)")
    logs.set_defaults(handler=_logs)

    events = sub.add_parser("events", help="print a deployment's Kubernetes events")
    _common(events)
    events.set_defaults(handler=_events)

    close = sub.add_parser(
        "close",
        help="close a deployment (and the replicas of the redundant service it is the first of)",
    )
    _common(close)
    close.set_defaults(handler=_close)
