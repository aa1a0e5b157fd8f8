"""The generated ``monitor-akash.sh``: status, logs, events and close for one deployment.

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

from minds371.config import EXECUTABLE_MODE, PRIVATE_DIR_MODE, write_all, write_private
from minds371.tasks import utcnow
from minds371_akash.market import Lease

__all__ = ["SCRIPT_NAME", "render_monitor_script", "write_monitor_script"]

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


def write_monitor_script(
    directory: Path,
    *,
    dseq: int,
    network: str,
    name: str,
    leases: Sequence[Lease],
    home: Path | None = None,
) -> Path:
    """Write ``monitor-akash.sh`` into ``directory`` (created), executable; return its path."""
    path = directory / SCRIPT_NAME
    text = render_monitor_script(dseq=dseq, network=network, name=name, leases=leases, home=home)
    if not _write_in_new_folder(directory, path, text):
        # It names the owner's deployment and leases: the owner's to read and run, no one
        # else's. Not flushed to disk: it is a convenience over what the state holds
        # (``minds371 status``, ``logs``, ``close`` do the same), and two fsyncs per deployment
        # cost a burst more than the rest of the write.
        write_private(path, text, mode=EXECUTABLE_MODE, durable=False)
    return path


def _write_in_new_folder(directory: Path, path: Path, text: str) -> bool:
    """Write the script into ``directory`` made for it now; False if the folder was there.

    A deployment's folder is new: nothing else can hold the script yet, so it is written in
    place, private from its first byte, without the temporary file and rename that replacing
    a file needs: half the file system calls, which cost the most on a disk that has just freed
    many files (README, "Performance").
    """
    try:
        os.mkdir(directory, PRIVATE_DIR_MODE)
    except (FileExistsError, FileNotFoundError):  # written before, or its parents are missing
        return False
    os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, EXECUTABLE_MODE)
    try:
        os.fchmod(fd, EXECUTABLE_MODE)
        write_all(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    return True
