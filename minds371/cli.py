"""The ``minds371`` command.

Exit codes: 0 success, 1 failure at run time, 2 bad input, 130 cancelled. With ``--json`` a command
prints exactly one JSON document on stdout; everything meant for people goes to stderr. Plugins add
sub-commands through their ``cli`` hook; a sub-command stores its handler with
``parser.set_defaults(handler=...)``, a function ``(args) -> int`` or ``async (args) -> int``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import anyio

from minds371.actions import ActionRegistry
from minds371.errors import (
    ConfigurationError,
    Minds371Error,
    ProviderError,
    ValidationError,
)
from minds371.logging import configure_cli_logging, redact
from minds371.plugins import Plugin, discover_plugins

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CANCELLED",
    "EXIT_FAILURE",
    "EXIT_OK",
    "build_parser",
    "main",
    "print_json",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr and exit 2 (never a traceback)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


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


def build_parser(plugins: Sequence[Plugin] | None = None) -> argparse.ArgumentParser:
    """The full argument parser, with every plugin's sub-commands."""
    parser = _Parser(
        prog="minds371",
        description="Deploy, register and watch services on the Akash Network from agents.",
    )
    parser.add_argument("--version", action="version", version=f"minds371 {_version()}")
    parser.add_argument(
        "--log-level", default="WARNING", help="log level for stderr (default WARNING)"
    )
    parser.add_argument("--log-json", action="store_true", help="log JSON lines to stderr")
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    actions = sub.add_parser("actions", help="list the registered actions and their schemas")
    actions.add_argument("--json", action="store_true", help="print the schemas as JSON")
    actions.set_defaults(handler=_cmd_actions)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return (and, as a console script, exit with) its exit code."""
    configure_cli_logging()  # quiet and on stderr until the flags are known
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    except Minds371Error as exc:
        print(f"minds371: error: {redact(exc.message)}", file=sys.stderr)
        return EXIT_FAILURE
    configure_cli_logging(args.log_level, json=args.log_json)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    return _guarded(handler, args)


def _guarded(handler: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> int:
    try:
        return _run_handler(handler, args)
    except KeyboardInterrupt:
        print("minds371: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except (ValidationError, ConfigurationError) as exc:
        _print_error(exc)
        return EXIT_BAD_INPUT
    except Minds371Error as exc:
        _print_error(exc)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"minds371: error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE


def _print_error(exc: Minds371Error) -> None:
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
