"""The ``minds371`` command.

Exit codes: 0 success, 1 failure at run time, 2 bad input, 130 cancelled. With ``--json`` a command
prints exactly one JSON document on stdout, failures included (``{"status": ..., "error": ...}``);
everything meant for people goes to stderr. ``--log-level`` and ``--log-json`` may stand before or
after the sub-command. Plugins add
sub-commands through their ``cli`` hook; a sub-command stores its handler with
``parser.set_defaults(handler=...)``, a function ``(args) -> int`` or ``async (args) -> int``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import anyio

from minds371.actions import ActionRegistry
from minds371.errors import (
    ConfigurationError,
    Minds371Error,
    ProviderError,
    ValidationError,
    sole_exception,
)
from minds371.logging import configure_cli_logging, get_logger, redact
from minds371.plugins import Plugin, discover_plugins

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CANCELLED",
    "EXIT_FAILURE",
    "EXIT_OK",
    "build_parser",
    "main",
    "UsageError",
    "error_document",
    "print_error",
    "print_json",
    "wants_json",
]

_log = get_logger("minds371.cli")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class UsageError(Exception):
    """The command line itself is wrong (unknown command, missing argument, bad flag value)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors raise :class:`UsageError` (one line, exit 2, no traceback)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def print_json(document: Any) -> None:
    """Print one JSON document on stdout (the ``--json`` contract)."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def _version() -> str:
    import minds371

    return str(minds371.__version__)


def _plugins() -> list[Plugin]:
    return discover_plugins()


def _registry(plugins: Sequence[Plugin]) -> ActionRegistry:
    registry = ActionRegistry()
    for plugin in plugins:
        for item in plugin.actions():
            registry.register(item)
    return registry


def _cmd_actions(args: argparse.Namespace) -> int:
    registry = _registry(_plugins())
    if args.json:
        print_json(registry.schemas())
        return EXIT_OK
    if not len(registry):
        print("no actions registered", file=sys.stderr)
    for item in registry:
        flags = [k for k, v in item.annotations.as_dict().items() if v]
        summary = item.description.splitlines()[0] if item.description else ""
        print(f"{item.name}\t{summary}" + (f"  [{', '.join(flags)}]" if flags else ""))
    return EXIT_OK


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser(
        "worker",
        help="serve tasks from a Redis bus (several workers share its tasks; see docs/workers.md)",
        description=(
            "Serve tasks from a Redis Streams bus until SIGTERM or Ctrl-C. Workers started on "
            "the same bus share its tasks, its state in the same Redis, and one deployment "
            "watcher; a dead worker's task is taken over by another after --claim-idle seconds. "
            "Dispatch to them with `minds371 deploy FILE --bus URL` (see docs/workers.md)."
        ),
    )
    worker.add_argument("--bus", default=None, help="redis://HOST:PORT/DB (default: $MINDS371_BUS)")
    worker.add_argument("--concurrency", type=int, default=8, help="tasks run at once (8)")
    worker.add_argument(
        "--state",
        default="redis",
        help="shared state: redis (the bus's server, default) or a Redis URL",
    )
    worker.add_argument(
        "--claim-idle",
        type=float,
        default=30.0,
        help="seconds before a dead worker's task is taken over (30)",
    )
    worker.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds a stopping worker lets running tasks finish before handing them back (30)",
    )
    worker.add_argument("--namespace", default="minds371", help="Redis key prefix (minds371)")
    worker.set_defaults(handler=_cmd_worker)


async def _cmd_worker(args: argparse.Namespace) -> int:
    from minds371.bus.cli import run_worker_command

    return await run_worker_command(args)


def build_parser(plugins: Sequence[Plugin] | None = None) -> argparse.ArgumentParser:
    """The full argument parser, with every plugin's sub-commands."""
    parser = _Parser(
        prog="minds371",
        description="Deploy, register and watch services on the Akash Network from agents.",
    )
    parser.add_argument("--version", action="version", version=f"minds371 {_version()}")
    # Taken out of the command line before parsing (see _global_flags), so that they work after
    # the sub-command too; declared here for --help.
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=LOG_LEVELS,
        type=str.upper,
        help="log level for stderr (default WARNING); before or after the command",
    )
    parser.add_argument("--log-json", action="store_true", help="log JSON lines to stderr")
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    actions = sub.add_parser("actions", help="list the registered actions and their schemas")
    actions.add_argument("--json", action="store_true", help="print the schemas as JSON")
    actions.set_defaults(handler=_cmd_actions)
    _add_worker(sub)
    from minds371.adapters.mcp._cli import add_mcp_command

    add_mcp_command(sub)
    for plugin in _plugins() if plugins is None else plugins:
        plugin.cli(sub)
    return parser


def _run_handler(handler: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> int:
    if inspect.iscoroutinefunction(handler):

        async def run() -> int:
            code: int = await handler(args)
            return code

        return anyio.run(run)
    code: int = handler(args)
    return code


def _global_flags(argv: Sequence[str]) -> tuple[list[str], str, bool]:
    """Take ``--log-level`` and ``--log-json`` out of ``argv``, wherever they stand.

    Raises:
        UsageError: ``--log-level`` without a known level.
    """
    rest: list[str] = []
    level, as_json = "WARNING", False
    items = iter(argv)
    for item in items:
        if item == "--":
            rest.append(item)
            rest.extend(items)
            break
        if item == "--log-json":
            as_json = True
        elif item == "--log-level" or item.startswith("--log-level="):
            value = item.partition("=")[2] if "=" in item else next(items, "")
            if value.upper() not in LOG_LEVELS:
                raise UsageError(
                    f"minds371: --log-level must be one of {', '.join(LOG_LEVELS)}, "
                    f"got {value[:20]!r}"
                )
            level = value.upper()
        else:
            rest.append(item)
    return rest, level, as_json


def wants_json(argv: Sequence[str]) -> bool:
    """Whether the command line asks for ``--json`` (before any ``--``)."""
    for item in argv:
        if item == "--":
            return False
        if item == "--json":
            return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return (and, as a console script, exit with) its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(arguments)
    configure_cli_logging()  # quiet and on stderr until the flags are known
    try:
        arguments, level, log_json = _global_flags(arguments)
        parser = build_parser()
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version
        return int(exc.code) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    except UsageError as exc:
        return _fail(str(exc), "UsageError", EXIT_BAD_INPUT, as_json=as_json, usage=True)
    except Minds371Error as exc:
        return _report_error(exc, EXIT_FAILURE, as_json=as_json)
    configure_cli_logging(level, json=log_json)
    handler = getattr(args, "handler", None)
    if handler is None:
        if as_json:
            return _fail("no command given", "UsageError", EXIT_BAD_INPUT, as_json=True)
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    return _guarded(handler, args, as_json=as_json)


def _guarded(
    handler: Callable[[argparse.Namespace], Any], args: argparse.Namespace, *, as_json: bool
) -> int:
    if threading.current_thread() is threading.main_thread():
        # From here on an interrupt is Python's KeyboardInterrupt, which commands turn into a
        # clean cancellation (the console script ends the process itself before this point).
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            return _run_handler(handler, args)
        except BaseExceptionGroup as group:
            # Task groups wrap what a command raised; one failure is reported as itself.
            raise sole_exception(group) from None
    except KeyboardInterrupt:
        return _fail("cancelled", "Cancelled", EXIT_CANCELLED, as_json=as_json)
    except (ValidationError, ConfigurationError) as exc:
        return _report_error(exc, EXIT_BAD_INPUT, as_json=as_json)
    except Minds371Error as exc:
        return _report_error(exc, EXIT_FAILURE, as_json=as_json)
    except UsageError as exc:
        return _fail(str(exc), "UsageError", EXIT_BAD_INPUT, as_json=as_json, usage=True)
    except OSError as exc:
        text = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        return _fail(redact(text), type(exc).__name__, EXIT_FAILURE, as_json=as_json)
    except Exception as exc:
        # A defect, not the user's doing: one line (and the document), the traceback only in
        # the log at DEBUG, so that a person is never handed a stack of frames.
        _log.debug("minds371.cli.unexpected_error", exc_info=exc)
        text = f"unexpected {type(exc).__name__}: {redact(str(exc))} (a defect; run with "
        text += "--log-level DEBUG for the details and report it)"
        return _fail(text, "InternalError", EXIT_FAILURE, as_json=as_json)


_STATUS = {EXIT_BAD_INPUT: "invalid", EXIT_CANCELLED: "cancelled"}


def error_document(error_type: str, message: str, exit_code: int, **extra: Any) -> dict[str, Any]:
    """The one JSON document a failed command prints with ``--json``."""
    error: dict[str, Any] = {"type": error_type, "message": message, **extra}
    return {"status": _STATUS.get(exit_code, "failed"), "exit_code": exit_code, "error": error}


def _fail(message: str, error_type: str, code: int, *, as_json: bool, usage: bool = False) -> int:
    if as_json:
        print_json(error_document(error_type, message, code))
    if usage and not message.startswith("minds371"):
        message = f"minds371: {message}"
    print(message if usage else f"minds371: {message}", file=sys.stderr)
    if usage:
        print(
            "(minds371 --help lists the commands; minds371 COMMAND --help their options)",
            file=sys.stderr,
        )
    return code


def _report_error(exc: Minds371Error, code: int, *, as_json: bool) -> int:
    if as_json:
        extra: dict[str, Any] = {}
        if isinstance(exc, ValidationError):
            extra["issues"] = [{"path": i.path, "message": redact(i.message)} for i in exc.issues]
        if isinstance(exc, ProviderError):
            extra["retryable"] = exc.retryable
        print_json(error_document(type(exc).__name__, redact(exc.message), code, **extra))
    print_error(exc)
    return code


def print_error(exc: Minds371Error) -> None:
    """Say what went wrong, once, on stderr (the issues of a validation error one a line)."""
    whole = isinstance(exc, ValidationError) and len(exc.issues) == 1
    if isinstance(exc, ValidationError) and whole and exc.issues[0].path in ("", "/"):
        # The whole document, not a field: one line, without a bare "/" for a path.
        print(f"minds371: invalid {exc.subject}: {redact(exc.issues[0].message)}", file=sys.stderr)
        return
    if isinstance(exc, ValidationError) and exc.issues:
        print(f"minds371: invalid {exc.subject}:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {redact(str(issue))}", file=sys.stderr)
        return
    kind = "temporary error" if isinstance(exc, ProviderError) and exc.retryable else "error"
    print(f"minds371: {kind}: {redact(exc.message)}", file=sys.stderr)


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
