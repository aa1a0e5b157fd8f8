"""A real BIND9 ``named`` on 127.0.0.1 serving one zone that accepts TSIG-signed updates.

The process runs in the foreground (``-g``) from a temporary directory that holds its
configuration, zone file and journal; it listens on a free port on 127.0.0.1 only, with
recursion off and no control channel. ``allow-update { key … }`` grants dynamic updates (RFC
2136) to the one key. Running as the current user needs no ``-u``; the session key and pid files
go to the temporary directory, so nothing under /run or /etc is written.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

__all__ = ["Bind", "find_named", "running_bind"]


@dataclass
class Bind:
    """A running ``named``: where it listens, its zone and its update key."""

    port: int
    zone: str
    key_name: str
    key_secret: str
    server: str = "127.0.0.1"

    def env(self) -> dict[str, str]:
        """The ``MINDS371_DNS_*`` variables of an rfc2136 provider for this server."""
        return {
            "MINDS371_DNS_PROVIDER": "rfc2136",
            "MINDS371_DNS_SERVER": self.server,
            "MINDS371_DNS_PORT": str(self.port),
            "MINDS371_DNS_ZONE": self.zone,
            "MINDS371_DNS_TSIG_KEY_NAME": self.key_name,
            "MINDS371_DNS_TSIG_SECRET": self.key_secret,
        }

    def lookup(self, name: str, kind: str) -> list[str]:
        """The records of ``kind`` at ``name`` as the server answers them (none: ``[]``)."""
        query = dns.message.make_query(name, kind)
        response = dns.query.tcp(query, self.server, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            return []
        wanted = dns.rdatatype.from_text(kind)
        return [
            rdata.to_text().rstrip(".")
            for rrset in response.answer
            if rrset.rdtype == wanted
            for rdata in rrset
        ]


def find_named() -> str | None:
    """The ``named`` binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("named") or shutil.which("named", path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    # Free for both TCP and UDP at the time of asking (named listens on both).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", 0))
        port = int(tcp.getsockname()[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))
    return port


@contextmanager
def running_bind(folder: Path, zone: str = "example.test") -> Iterator[Bind]:
    """Start ``named`` for ``zone`` in ``folder``; stop it on exit.

    Raises:
        RuntimeError: it did not start (its output is in the message).
    """
    named = find_named()
    assert named is not None, "named is not installed (Debian package bind9)"
    folder.mkdir(parents=True, exist_ok=True)
    secret = base64.b64encode(os.urandom(32)).decode()
    key_name = "minds371-update"
    (folder / "zone.db").write_text(
        "$TTL 60\n"
        f"@ IN SOA ns.{zone}. hostmaster.{zone}. 1 60 60 600 60\n"
        f"@ IN NS ns.{zone}.\n"
        "ns IN A 127.0.0.1\n"
    )
    port = _free_port()
    (folder / "named.conf").write_text(
        f'key "{key_name}" {{ algorithm hmac-sha256; secret "{secret}"; }};\n'
        "options {\n"
        f'  directory "{folder}";\n'
        f"  listen-on port {port} {{ 127.0.0.1; }};\n"
        "  listen-on-v6 { none; };\n"
        f'  pid-file "{folder}/named.pid";\n'
        f'  session-keyfile "{folder}/session.key";\n'
        "  recursion no;\n"
        "  dnssec-validation no;\n"
        "};\n"
        "controls { };\n"
        f'zone "{zone}" {{ type primary; file "{folder}/zone.db"; '
        f'allow-update {{ key "{key_name}"; }}; }};\n'
    )
    log = (folder / "named.log").open("w")
    process = subprocess.Popen(
        [named, "-g", "-c", str(folder / "named.conf")],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    bind = Bind(port=port, zone=zone, key_name=key_name, key_secret=secret)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"named did not start: {(folder / 'named.log').read_text()}")
            try:
                if bind.lookup(zone, "SOA"):
                    break
            except (OSError, dns.exception.DNSException):
                pass
            time.sleep(0.05)
        yield bind
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
