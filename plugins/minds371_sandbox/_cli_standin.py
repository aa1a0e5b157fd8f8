"""CLI stand-ins for ``akash`` and ``provider-services`` that operate on a sandbox.

:func:`write_standin_binaries` writes two executables into a directory; put it first on ``PATH``
(or point the CLI backend at the files) and run them with ``--node http://127.0.0.1:PORT`` (or
``AKASH_NODE``). They accept the command set of ``reference/akash.md`` §3 and print the real
``-o json`` shapes; ``--from NAME`` picks the key ``identity_for_key_name(NAME)``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from minds371_sandbox._cli_standin_common import StandinError

__all__ = ["STANDIN_PROGRAMS", "standin_main", "write_standin_binaries"]

STANDIN_PROGRAMS = ("akash", "provider-services")


def write_standin_binaries(directory: Path, *, python: str = sys.executable) -> dict[str, Path]:
    """Write the ``akash`` and ``provider-services`` stand-ins into ``directory``.

    Args:
        directory: Where to write them (created if missing).
        python: The interpreter their shebang names (one with minds371 installed).

    Returns:
        The path of each program by name.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for program in STANDIN_PROGRAMS:
        path = directory / program
        path.write_text(
            f"#!{python}\n"
            f'"""minds371 sandbox stand-in for `{program}`."""\n'
            "import sys\n\n"
            "from minds371_sandbox._cli_standin import standin_main\n\n"
            f"sys.exit(standin_main({program!r}, sys.argv[1:]))\n",
            encoding="utf-8",
        )
        path.chmod(0o755)
        paths[program] = path
    return paths


def standin_main(program: str, argv: Sequence[str]) -> int:
    """Run one stand-in; returns its exit code (0 ok, 1 error)."""
    # Only the program's own command tree is imported: each run is a process start, and the
    # backends poll with many of them (provider-services pulls in the WebSocket client).
    if program == "akash":
        from minds371_sandbox._cli_standin_akash import akash_parser as make
    else:
        from minds371_sandbox._cli_standin_provider import provider_parser as make
    parser = make()
    try:
        args = parser.parse_args(list(argv))
        code: int = args.run(args)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 1
    except StandinError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"Error: post failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
