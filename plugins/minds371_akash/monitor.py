"""The generated ``monitor-akash.sh``: status, logs, events and close for one deployment.

Each deployment's script is ``$MINDS371_HOME/deployments/<name>-<dseq>.monitor-akash.sh``.

Every value that came from outside (provider addresses, host URIs, service names, the network)
is written with :func:`shlex.quote` into a variable assignment, never into a comment or a bare
command line, so that a hostile value (``$(...)``, backquotes, a newline) stays inert text.

The script runs ``minds371`` as the Python that wrote it (``python -m minds371``, by absolute
path), so it works from a shell whose ``PATH`` has no ``minds371`` (a virtual environment that
is not activated); ``MINDS371`` in the environment overrides that. It also pins the state
directory it was written for (``MINDS371_HOME``, unless set), so that it looks at the same
deployments from any shell.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from minds371.config import EXECUTABLE_MODE, private_dir, write_all, write_private
from minds371.tasks import utcnow
from minds371_akash.market import Lease

__all__ = [
    "SCRIPT_NAME",
    "monitor_script_path",
    "render_monitor_script",
    "write_monitor_script",
]

SCRIPT_NAME = "monitor-akash.sh"

_BODY = r"""
minds371() {
  if [ -n "${MINDS371:-}" ]; then
    exec "$MINDS371" "$@"
  fi
  exec "$PYTHON" -m minds371 "$@"
}

usage() {
  cat >&2 <<'USAGE'
usage: monitor-akash.sh [status|logs [--follow] [--tail N]|events|close|leases]
  status   the deployment, its leases and their live status
  logs     the services' logs (extra arguments go to `minds371 logs`)
  events   the providers' Kubernetes events
  close    close the deployment (stops paying; asks first)
  leases   the leases recorded when the script was written
USAGE
}

command=${1:-status}
[ $# -gt 0 ] && shift
case "$command" in
  status) minds371 status "$DSEQ" --network "$NETWORK" "$@" ;;
  logs) minds371 logs "$DSEQ" --network "$NETWORK" "$@" ;;
  events) minds371 events "$DSEQ" --network "$NETWORK" "$@" ;;
  close)
    printf 'Close deployment %s (%s) on %s? [y/N] ' "$DSEQ" "$NAME" "$NETWORK" >&2
    read -r answer
    case "$answer" in
      y|Y|yes) minds371 close "$DSEQ" --network "$NETWORK" "$@" ;;
      *) echo "not closed" >&2; exit 1 ;;
    esac
    ;;
  leases) printf '%s\n' "${LEASES[@]}" ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
"""


def render_monitor_script(
    *,
    dseq: int,
    network: str,
    name: str,
    leases: Sequence[Lease],
    home: Path | None = None,
    python: str | None = None,
) -> str:
    """The script's text (see module docs for how values are quoted).

    Args:
        dseq: The deployment.
        network: Its network (``sandbox``, ``console``, ``cli``).
        name: Its registry name.
        leases: Its leases when the script is written.
        home: The state directory to pin (``MINDS371_HOME``), if any.
        python: The interpreter that runs ``-m minds371`` (default: this one).
    """
    lease_lines = " ".join(
        shlex.quote(
            f"gseq={lease.id.gseq} oseq={lease.id.oseq} provider={lease.id.provider} "
            f"price={lease.price.plain}{lease.price.denom}/block"
        )
        for lease in leases
    )
    header = "\n".join(
        [
            "#!/usr/bin/env bash",
            "# Monitor one Akash deployment with minds371. Written by minds371; values are",
            "# quoted so that nothing in them can run as a command.",
            "set -euo pipefail",
            f"DSEQ={int(dseq)}",
            f"NETWORK={shlex.quote(network)}",
            f"NAME={shlex.quote(name)}",
            f"WRITTEN_AT={shlex.quote(utcnow().isoformat())}",
            f"LEASES=({lease_lines})",
            f"PYTHON={shlex.quote(python or sys.executable)}",
        ]
        + (
            [f"export MINDS371_HOME=${{MINDS371_HOME:-{shlex.quote(str(home))}}}"]
            if home is not None
            else []
        )
    )
    return header + "\n" + _BODY.lstrip("\n")


def monitor_script_path(deployments: Path, *, name: str, dseq: int) -> Path:
    """Where the script of deployment ``dseq`` of ``name`` goes in the folder ``deployments``.

    ``<name>-<dseq>.monitor-akash.sh``, one file beside the others' (a folder per deployment
    costs a burst of deployments a new inode each; README, "Performance"). A deployment whose
    script was written in its own folder by an earlier minds371 (``<name>-<dseq>/``) keeps it
    there, so that an update rewrites the script its owner already uses.

    Raises:
        ValueError: if ``name`` could lead out of ``deployments`` (a request's name never can).
    """
    if "/" in name or "\0" in name or name.startswith("."):
        raise ValueError(f"{name!r} cannot name a file in {deployments}")
    folder = deployments / f"{name}-{int(dseq)}"
    if os.path.isdir(folder):
        return folder / SCRIPT_NAME
    return deployments / f"{name}-{int(dseq)}.{SCRIPT_NAME}"


def write_monitor_script(
    deployments: Path,
    *,
    dseq: int,
    network: str,
    name: str,
    leases: Sequence[Lease],
    home: Path | None = None,
) -> Path:
    """Write the deployment's script into ``deployments`` (made if missing); return its path.

    The script is executable by its owner alone (see :func:`monitor_script_path` for its name).
    """
    path = monitor_script_path(deployments, name=name, dseq=dseq)
    text = render_monitor_script(dseq=dseq, network=network, name=name, leases=leases, home=home)
    if not _write_new(path, text):
        # It names the owner's deployment and leases: the owner's to read and run, no one
        # else's. Not flushed to disk: it is a convenience over what the state holds
        # (``minds371 status``, ``logs``, ``close`` do the same), and two fsyncs per deployment
        # cost a burst more than the rest of the write.
        write_private(path, text, mode=EXECUTABLE_MODE, durable=False)
    return path


def _write_new(path: Path, text: str) -> bool:
    """Write a script that is not there yet in place; False if it was written before.

    A deployment's first script is new: nothing else can hold it yet, so it is written in place,
    private from its first byte, without the temporary file and rename that replacing a file
    needs: half the file system calls, which cost the most on a disk that has just freed many
    files (README, "Performance").
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, EXECUTABLE_MODE)
    except FileExistsError:
        return False
    except FileNotFoundError:  # the first deployment of this home
        private_dir(path.parent)
        try:
            fd = os.open(path, flags, EXECUTABLE_MODE)
        except FileExistsError:
            return False
    try:
        os.fchmod(fd, EXECUTABLE_MODE)  # the open's mode passes through the umask
        write_all(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    return True
