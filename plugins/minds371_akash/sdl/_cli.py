"""``minds371 sdl validate|manifest|build``.

- ``sdl validate FILE``: exit 0 (warnings on stderr) or exit 2 with every error, one per line,
  including what a deploy refuses before spending (image references, NUL in the environment,
  persistent volumes without a class, placement values no provider has).
- ``sdl manifest FILE [--json]``: the manifest, indented for people, and its version hash on
  stderr; ``--json`` prints ``{"version", "manifest", "groups"}`` with the canonical manifest.
- ``sdl build SPEC``: a workload spec (YAML or JSON) in, SDL YAML out on stdout.

``FILE`` may be ``-`` for stdin. A file that cannot be read, is empty, is not YAML, is too large
or is hostile (an alias bomb, absurd nesting) exits 2 with a one-line reason (with ``--json``,
also as the one JSON document on stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from minds371.cli import EXIT_BAD_INPUT, EXIT_OK, error_document, print_error, print_json
from minds371.errors import FieldIssue, ValidationError
from minds371.logging import redact

__all__ = ["register_cli"]


class _InputError(Exception):
    """A whole-file problem, reported as one line."""


def _read(name: str) -> bytes:
    from minds371_akash.sdl._files import InputFileError, read_bounded
    from minds371_akash.sdl._yaml import MAX_INPUT_BYTES

    limit = MAX_INPUT_BYTES
    if name != "-":
        # Regular files only, never more than the limit (no FIFO, no /dev/zero).
        try:
            return read_bounded(name, limit)
        except InputFileError as exc:
            raise _InputError(str(exc)) from None
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except OSError as exc:
        raise _InputError(f"stdin cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise _InputError(f"{name} is larger than the limit of {limit} bytes")
    return data


def _one_line(exc: ValidationError) -> str | None:
    """The reason when a whole document was refused, else None (field errors are listed)."""
    from minds371_akash.sdl._yaml import DocumentError

    if len(exc.issues) != 1:
        return None
    issue = exc.issues[0]
    if issue.path == "/":
        return issue.message
    if isinstance(exc, DocumentError):
        where = issue.path if len(issue.path) <= 60 else issue.path[:57] + "..."
        return f"{issue.message} (at {where})"
    return None


def _run(args: argparse.Namespace, what: str, action: Any) -> int:
    try:
        data = _read(args.file)
        return int(action(data))
    except _InputError as exc:
        if getattr(args, "json", False):
            print_json(error_document("InputError", str(exc), EXIT_BAD_INPUT))
        print(f"minds371: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as exc:
        reason = _one_line(exc)
        if reason is None:
            raise
        text = f"invalid {what}: {redact(reason)}"
        if getattr(args, "json", False):
            print_json(error_document(type(exc).__name__, text, EXIT_BAD_INPUT))
        print(f"minds371: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _warnings(sdl: Any) -> None:
    for issue in sdl.warnings:
        print(f"minds371: warning: {issue}", file=sys.stderr)


def _cmd_validate(args: argparse.Namespace) -> int:
    from minds371_akash.sdl import build_manifest, parse_sdl
    from minds371_akash.sdl._runnable import runnable_issues

    def action(data: bytes) -> int:
        try:
            sdl = parse_sdl(data)
            # What the chain accepts but a deploy refuses before spending is an error here too.
            refused = runnable_issues(sdl)
            if refused:
                raise ValidationError(refused, subject="SDL")
        except ValidationError as exc:
            if not args.json or _one_line(exc) is not None:
                raise
            # Agents get the issues as data (the one document); people still get them on stderr.
            issues = [{"path": i.path, "message": redact(i.message)} for i in exc.issues]
            print_json({"valid": False, "issues": issues})
            print_error(exc)
            return EXIT_BAD_INPUT
        manifest = build_manifest(sdl)
        _warnings(sdl)
        if args.json:
            print_json(
                {
                    "valid": True,
                    "sdl_version": sdl.version,
                    "version": manifest.version,
                    "warnings": [{"path": w.path, "message": w.message} for w in sdl.warnings],
                }
            )
        else:
            groups = len(manifest.group_specs)
            services = sum(len(group["services"]) for group in manifest.groups)
            print(
                f"{args.file}: valid SDL {sdl.version}: {services} service(s) in "
                f"{groups} group(s), version {manifest.version}",
                file=sys.stderr,
            )
        return EXIT_OK

    return _run(args, "SDL", action)


def _cmd_manifest(args: argparse.Namespace) -> int:
    from minds371_akash.sdl import build_manifest, parse_sdl

    def action(data: bytes) -> int:
        sdl = parse_sdl(data)
        manifest = build_manifest(sdl)
        _warnings(sdl)
        if args.json:
            print_json(
                {
                    "version": manifest.version,
                    "manifest": manifest.json,
                    "groups": manifest.group_specs,
                }
            )
        else:
            # For people: indented. The version hash is of the canonical (compact) form, which
            # --json prints as it is.
            sys.stdout.write(json.dumps(json.loads(manifest.json), indent=2) + "\n")
            print(f"version {manifest.version}", file=sys.stderr)
        return EXIT_OK

    return _run(args, "SDL", action)


def _cmd_build(args: argparse.Namespace) -> int:
    from minds371_akash.sdl import build_sdl
    from minds371_akash.sdl._yaml import DocumentError, load_yaml

    def action(data: bytes) -> int:
        try:
            spec = load_yaml(data)
        except DocumentError as exc:
            # Same loader as for SDL documents; here it reads the spec.
            raise DocumentError(exc.issues, subject="workload spec") from None
        if not isinstance(spec, dict):
            raise ValidationError(
                [FieldIssue("/", "a workload spec is a mapping of fields")],
                subject="workload spec",
            )
        sys.stdout.write(build_sdl(spec))
        return EXIT_OK

    return _run(args, "workload spec", action)


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sdl validate``, ``sdl manifest`` and ``sdl build`` to the ``minds371`` command."""
    sdl = sub.add_parser("sdl", help="validate SDL files, build manifests and SDL")
    commands = sdl.add_subparsers(dest="sdl_command", metavar="COMMAND")

    def _usage(args: argparse.Namespace) -> int:
        sdl.print_help(sys.stderr)
        return EXIT_BAD_INPUT

    sdl.set_defaults(handler=_usage)

    validate = commands.add_parser("validate", help="check an SDL file against every rule")
    validate.add_argument("file", metavar="FILE", help="SDL YAML file, or - for stdin")
    validate.add_argument("--json", action="store_true", help="print one JSON document")
    validate.set_defaults(handler=_cmd_validate)

    manifest = commands.add_parser(
        "manifest", help="print the manifest, its version hash and the group specs"
    )
    manifest.add_argument("file", metavar="FILE", help="SDL YAML file, or - for stdin")
    manifest.add_argument(
        "--json", action="store_true", help='print {"version", "manifest", "groups"}'
    )
    manifest.set_defaults(handler=_cmd_manifest)

    build = commands.add_parser("build", help="write SDL for a workload spec")
    build.add_argument("file", metavar="SPEC", help="workload spec (YAML or JSON), or - for stdin")
    build.set_defaults(handler=_cmd_build)
