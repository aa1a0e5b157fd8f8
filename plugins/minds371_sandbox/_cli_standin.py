"""CLI stand-ins for ``akash`` and ``provider-services`` that operate on a sandbox.

:func:`write_standin_binaries` writes two executables into a directory; put it first on ``PATH``
(or point the CLI backend at the files) and run them with ``--node http://127.0.0.1:PORT`` (or
``AKASH_NODE``). They accept the command set of ``reference/akash.md`` §3 with exactly the real
commands' flags (see :mod:`._cli_standin_cobra`) and print the real output shapes; ``--from NAME``
picks the key ``identity_for_key_name(NAME)`` from the ``test`` keyring backend (the real default
is ``os``: pass ``--keyring-backend test`` or set ``AKASH_KEYRING_BACKEND=test``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from minds371_sandbox._cli_standin_cobra import CobraError, HelpRequested, parse_command
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
        from minds371_sandbox._cli_standin_akash import akash_command

        root, prefixes = akash_command(), ["AKASH"]
    else:
        from minds371_sandbox._cli_standin_provider import provider_command

        # cmd/provider-services/main.go: ExecuteWithCtx(..., "AP"); root.go binds AP and AKASH.
        root, prefixes = provider_command(), ["AP", "AKASH"]
    try:
        command, args = parse_command(root, list(argv), env_prefixes=prefixes)
        assert command.run is not None
        code: int = command.run(args)
    except HelpRequested:
        print(f"Usage of {program} (minds371 sandbox stand-in): see the real command's help.")
        return 0
    except (CobraError, StandinError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"Error: post failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
