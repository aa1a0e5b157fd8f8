"""``minds371 deploy``, ``minds371 reconcile`` and ``minds371 watch``.

``deploy`` runs the request as a durable task on a runtime over ``$MINDS371_HOME``, shows its
progress on stderr and prints the result (one JSON document with ``--json``) on stdout. Ctrl-C
cancels the task, which closes what it created, and exits 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from rich.console import Console

from minds371.cli import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_FAILURE,
    EXIT_OK,
    print_json,
)
from minds371.runtime import AgentRuntime, TaskHandle
from minds371.tasks import AgentType, Task, TaskEvent, TaskResult, TaskStatus
from minds371_deploy.building.config import COMMANDS_ENV
from minds371_deploy.request import load_request, request_payload

__all__ = ["register_cli"]

#: Error types that mean the request itself must change (exit code 2).
_BAD_INPUT = frozenset({"ValidationError", "ConfigurationError", "BudgetExceeded", "BuildError"})


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``deploy``, ``reconcile`` and ``watch``; let ``discover`` probe the sandbox."""
    from minds371_registry._cli import add_probe_route_source

    add_probe_route_source(_sandbox_probe_routes)
    deploy = sub.add_parser("deploy", help="deploy a request file (YAML or JSON) to Akash")
    deploy.add_argument("file", help="the deployment request")
    deploy.add_argument("--network", choices=["sandbox", "console", "cli"], default=None)
    deploy.add_argument("--json", action="store_true", help="print the result as JSON")
    deploy.add_argument(
        "--new",
        action="store_true",
        help="deploy a second one even when this name already runs (default: update it)",
    )
    deploy.add_argument(
        "--bus",
        default=None,
        help="run it on the workers of this Redis bus (default: $MINDS371_BUS; else here)",
    )
    deploy.set_defaults(handler=_cmd_deploy)

    for name, aliases in (("list", ["ps"]),):
        listing = sub.add_parser(
            name,
            aliases=aliases,
            help="every deployment this home knows: name, network, dseq, state, price, runway",
        )
        listing.add_argument("--all", action="store_true", help="include closed deployments")
        listing.add_argument("--json", action="store_true", help="print one JSON document")
        listing.add_argument(
            "-q", "--quiet", action="store_true", help="print only the dseqs, newest first"
        )
        listing.add_argument(
            "--offline",
            action="store_true",
            help="do not ask the networks for live state and runway",
        )
        listing.set_defaults(handler=_cmd_list)

    reconcile = sub.add_parser(
        "reconcile", help="resume or compensate deployments interrupted by a crash"
    )
    reconcile.add_argument("--json", action="store_true", help="print the outcome as JSON")
    reconcile.set_defaults(handler=_cmd_reconcile)

    watch = sub.add_parser(
        "watch", help="keep deployments leased and registered (re-lease lost groups)"
    )
    watch.add_argument("--once", action="store_true", help="check once and exit")
    watch.add_argument("--json", action="store_true", help="with --once: print JSON")
    watch.set_defaults(handler=_cmd_watch)


#: Events whose news the final report gives (once, with the diagnosis).
_SAID_AT_THE_END = frozenset({"deployment.finished", "task.failed", "task.cancelled"})


def _sandbox_probe_routes() -> AbstractAsyncContextManager[Sequence[Any]]:
    # Imported when discover runs: building the parser must not load the sandbox.
    from minds371_deploy._probe import sandbox_probe_routes

    return sandbox_probe_routes()


class _Progress:
    """Task events as lines on stderr (colour and a spinner on a terminal)."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)

    def show(self, event: TaskEvent) -> None:
        if event.type in _SAID_AT_THE_END:
            return
        mark = (
            "[red]✗[/red]" if event.type.endswith(("failed", "cancelled")) else "[green]•[/green]"
        )
        self.console.print(
            f"{mark} [dim]{event.at:%H:%M:%S}[/dim] [bold]{event.type}[/bold] "
            f"{_escape(event.message)}"
        )


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


async def _follow(handle: TaskHandle, progress: _Progress | None) -> None:
    async for event in handle.events():
        if progress is not None:
            progress.show(event)


async def _cmd_deploy(args: argparse.Namespace) -> int:
    request = load_request(args.file)
    if args.network is not None:
        request = request.model_copy(update={"network": args.network})
    if args.new:
        request = request.model_copy(update={"if_running": "new"})
    payload = request_payload(request)
    progress = _Progress()
    cancelled = False
    task = Task(
        id=request.task_id or uuid.uuid4().hex,
        agent_type=AgentType.DEPLOYMENT,
        description=f"deploy {request.name}",
        payload=payload,
    )
    bus = args.bus or os.environ.get("MINDS371_BUS", "").strip()
    if bus:
        from minds371_deploy._bus_deploy import deploy_on_bus

        result, cancelled = await deploy_on_bus(bus, task, request.name, progress)
        return _report(result, as_json=args.json, cancelled=cancelled, console=progress.console)
    # The request comes from the person at this shell: its build commands may run here, unless
    # the operator's environment says otherwise (workers and tool hosts refuse them by default).
    os.environ.setdefault(COMMANDS_ENV, "allow")
    async with AgentRuntime() as runtime:
        handle = await runtime.dispatch(task)
        progress.console.print(f"[bold]deploying[/bold] {request.name} as task {handle.id}")
        async with anyio.create_task_group() as group:

            async def on_interrupt() -> None:
                nonlocal cancelled
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        cancelled = True
                        progress.console.print(
                            "[yellow]cancelling: closing what was created, undoing an update…"
                        )
                        await handle.cancel()
                        return

            group.start_soon(on_interrupt)
            await _follow(handle, progress)
            result = await handle.result()
            group.cancel_scope.cancel()
    return _report(result, as_json=args.json, cancelled=cancelled, console=progress.console)


def _report(result: TaskResult, *, as_json: bool, cancelled: bool, console: Console) -> int:
    if result.status is TaskStatus.COMPLETED:
        if as_json:
            output = dict(result.output)
            output.pop("context", None)
            print_json(output)
        else:
            _print_summary(result.output, console)
        return EXIT_OK
    error = result.error
    if cancelled or result.status is TaskStatus.CANCELLED:
        code = EXIT_CANCELLED
    elif error is not None and error.type in _BAD_INPUT:
        code = EXIT_BAD_INPUT
    else:
        code = EXIT_FAILURE
    if as_json:
        print_json(
            {
                "status": result.status.value,
                "exit_code": code,
                "task_id": result.task_id,
                "error": error.model_dump() if error else None,
            }
        )
    if error is not None:
        _print_failure(result.status.value, error.message, error.details, console)
        if error.type in _WHAT_TO_DO and not isinstance(error.details.get("diagnosis"), dict):
            console.print(f"  do        {_escape(_WHAT_TO_DO[error.type])}")
    return code


#: What to do about failures that carry no diagnosis of their own.
_WHAT_TO_DO = {
    "BudgetExceeded": (
        "raise budget.max_usd_per_month in the request, or lower max_price_uact (the most a "
        "lease may cost per block); nothing was spent"
    ),
    "ValidationError": "correct the fields named above; nothing was spent",
    "BuildError": "fix the repository or the build fields, then deploy again; nothing was spent",
}


def _print_failure(status: str, message: str, details: dict[str, Any], console: Console) -> None:
    """The failure, said once: what happened, the evidence, what to do, what was left open."""
    console.print(f"[red]✗ {status}:[/red] {_escape(message)}")
    diagnosis = details.get("diagnosis")
    dseq = details.get("dseq")
    if isinstance(diagnosis, dict):
        summary = str(diagnosis.get("summary", ""))
        if summary and summary not in message:
            console.print(f"  why       {_escape(summary)}")
        for line in diagnosis.get("evidence", ()):
            console.print(f"  evidence  {_escape(str(line))}")
        for line in diagnosis.get("actions", ()):
            text = str(line).replace("DSEQ", str(dseq)) if dseq is not None else str(line)
            console.print(f"  do        {_escape(text)}")
    if details.get("rolled_back") is True:
        console.print(
            f"  [yellow]the update was undone: deployment {dseq} runs its previous manifest "
            "again[/yellow]"
        )
    elif details.get("rolled_back") is False:
        console.print(
            "  [yellow]the update could not be undone "
            f"({_escape(details.get('rollback_error', ''))}); deploy the previous request "
            f"again, or `minds371 close {dseq}`[/yellow]"
        )
    if details.get("close_failed"):
        console.print(
            f"  [yellow]deployment {dseq} could not be closed: {_escape(details['close_failed'])}"
            f"; run `minds371 close {dseq}` to stop paying[/yellow]"
        )


def _print_summary(output: dict[str, Any], console: Console) -> None:
    update = output.get("update") or {}
    kind = update.get("kind", "new")
    if kind == "in_place":
        headline = f"updated deployment {output['dseq']} in place"
    elif kind == "replace":
        replaced = update.get("replaced") or {}
        headline = f"replaced deployment {update.get('previous_dseq')} with {output['dseq']}"
        if not replaced.get("closed", True):
            headline += (
                f" [yellow](the old one could not be closed: {_escape(replaced.get('error', ''))}"
                f"; run `minds371 close {update.get('previous_dseq')}`)[/yellow]"
            )
    else:
        headline = f"deployment {output['dseq']}"
    console.print(f"[green bold]ready[/green bold] {headline} ({output['network']})")
    for url in output.get("endpoints", []):
        console.print(f"  endpoint  {url}")
    dns = output.get("dns")
    if dns and dns.get("content"):
        how = f"set through {dns['managed']}" if dns.get("managed") else "create it yourself"
        proxied = ", proxied" if dns.get("proxied") else ""
        console.print(
            f"  domain    {_escape(dns['name'])} {dns['type']} {_escape(dns['content'])}"
            f"{proxied} ({how}; TLS: {dns['tls']})"
        )
    for lease in output.get("leases", []):
        price = lease["price"]
        # With replicas of their own, each lease says whose deployment it is.
        whose = f"deployment {lease['dseq']} " if "dseq" in lease else ""
        console.print(
            f"  lease     {whose}gseq {lease['gseq']} from {lease['provider']} at "
            f"{price['amount']} {price['denom']}/block"
        )
    cost = output.get("cost", {})
    copies = len(output.get("replicas", [])) + 1
    each = f" for {copies} replicas" if copies > 1 else ""
    line = f"  cost      {cost.get('usd_per_month')} USD/month{each}"
    if cost.get("reference_usd_per_month") is not None:
        line += (
            f"; the same on a reference cloud: {cost['reference_usd_per_month']} USD/month "
            f"(saves {cost.get('savings_pct')}%)"
        )
    console.print(line)
    registry = output.get("registry", {})
    console.print(f"  registry  {registry.get('record_id')} (metadata {registry.get('cid')})")
    console.print(f"  monitor   {output.get('monitor_script')}")
    done = {"in_place": " updated,", "replace": " replaced another,"}.get(kind, "")
    print(f"deployment {output['dseq']}{done} ready at {' '.join(output.get('endpoints', []))}")


async def _cmd_list(args: argparse.Namespace) -> int:
    from minds371.config import home
    from minds371.state import SQLiteStateStore
    from minds371_deploy.listing import deployment_rows, with_live_state

    path = home() / "state.db"
    rows = []
    if path.exists():
        # Not exclusive: a list works while a deploy or the watcher holds the state.
        async with SQLiteStateStore(path, exclusive=False) as store:
            rows = await deployment_rows(store, include_closed=args.all)
    if not args.offline:
        await with_live_state(rows, _open_akash)
        if not args.all:
            rows = [row for row in rows if row.is_open]
    if args.json:
        print_json([row.as_dict() for row in rows])
        return EXIT_OK
    if args.quiet:
        sys.stdout.write("".join(f"{row.dseq}\n" for row in rows))
        return EXIT_OK
    _mention_served_sandboxes()
    if not rows:
        hint = "" if args.all else " (--all includes closed ones)"
        print(f"no deployments{hint}", file=sys.stderr)
        return EXIT_OK
    table = [("NAME", "NETWORK", "DSEQ", "STATE", "PROVIDERS", "USD/MONTH", "RUNWAY", "AGE")]
    for row in rows:
        table.append(
            (
                row.name,
                row.network,
                str(row.dseq),
                row.state,
                ",".join(_short(p) for p in row.providers) or "-",
                "-" if row.usd_per_month is None else f"{row.usd_per_month:.2f}",
                _duration(row.runway_seconds),
                _duration(row.age_seconds),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")
    for row in rows:
        if row.note:
            print(f"{row.dseq}: {row.note}", file=sys.stderr)
    return EXIT_OK


def _mention_served_sandboxes() -> None:
    """Say where the deployments of served sandboxes are listed (their state is kept apart)."""
    from minds371.config import SANDBOX_URL_ENV, base_home

    served = base_home() / "served"
    if os.environ.get(SANDBOX_URL_ENV, "").strip() or not served.is_dir():
        return
    for folder in sorted(p for p in served.iterdir() if (p / "state.db").exists()):
        print(
            f"(deployments of the served sandbox {folder.name} are listed with "
            f"{SANDBOX_URL_ENV} pointing at it)",
            file=sys.stderr,
        )


@asynccontextmanager
async def _open_akash(network: str) -> AsyncIterator[Any]:
    from minds371_akash import AkashIntegrationProvider
    from minds371_akash.networks import open_backend
    from minds371_deploy.backends import DeployConfig

    config = DeployConfig.from_env()
    async with (
        open_backend(network, sandbox_state=config.sandbox_state) as backend,
        AkashIntegrationProvider(backend) as akash,
    ):
        yield akash


def _short(address: str) -> str:
    return f"{address[:10]}…{address[-4:]}" if len(address) > 16 else address


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}" if unit != "d" else f"{seconds / size:.1f}d"
    return f"{seconds:.0f}s"


async def _cmd_reconcile(args: argparse.Namespace) -> int:
    from minds371_deploy.reconcile import reconcile

    report = await reconcile()
    if args.json:
        print_json(report)
    else:
        console = Console(stderr=True, highlight=False)
        console.print(
            f"resumed {len(report['resumed'])}, failed {len(report['failed'])}, "
            f"closed {len(report['closed'])} orphaned deployment(s)"
        )
        for item in report["resumed"] + report["failed"]:
            console.print(f"  task {item['task_id']}: {item['status']} {item.get('dseq') or ''}")
    return EXIT_OK if not report["failed"] else EXIT_FAILURE


async def _cmd_watch(args: argparse.Namespace) -> int:
    from minds371_deploy._plugin import watcher_for

    console = Console(stderr=True, highlight=False)
    async with AgentRuntime() as runtime:
        watcher = watcher_for(runtime)
        if not args.once:
            interval = watcher.agent.config.watch_interval
            console.print(f"watching deployments every {interval:g} s; Ctrl-C to stop")
            watcher.on_pass = lambda actions: _say_pass(console, watcher.checked, actions)
            await anyio.sleep_forever()
        actions = await watcher.check_once()
    if args.json:
        print_json(
            {
                "checked": watcher.checked,
                "actions": [
                    {
                        "task_id": a.task_id,
                        "dseq": str(a.dseq),
                        "kind": a.kind,
                        "detail": a.detail,
                        **a.data,
                    }
                    for a in actions
                ],
            }
        )
    else:
        _say_pass(console, watcher.checked, actions)
    failed = [a for a in actions if a.kind == "error"]
    return EXIT_FAILURE if failed else EXIT_OK


def _say_pass(console: Console, checked: int, actions: list[Any]) -> None:
    """One pass of the watcher in words: what it looked at, and each thing it did."""
    for action in actions:
        what = "could not check" if action.kind == "error" else action.kind
        console.print(f"{what:15} deployment {action.dseq}: {_escape(action.detail)}")
    failed = sum(1 for a in actions if a.kind == "error")
    # A failed idle probe changed nothing: the deployment stays open and is only reported.
    unprobed = sum(1 for a in actions if a.kind == "idle_probe_failed")
    changed = len(actions) - failed - unprobed
    noun = "deployment" if checked == 1 else "deployments"
    summary = f"checked {checked} {noun}: "
    if not actions:
        summary += "all leased and serving" if checked else "nothing to watch"
    else:
        summary += f"{changed} changed, {failed} could not be checked"
        if unprobed:
            summary += f", {unprobed} idle probe(s) unanswered"
    console.print(summary)
