"""The CLI stand-ins set up as a user sets up the real ``akash`` and ``provider-services``.

The stand-ins default, like the real binaries, to the ``os`` keyring and ``$HOME/.akash``, and
refuse ``tx deployment create`` until the key has a client certificate: a test gives them a home of
its own (``AKASH_HOME``), the sandbox's ``test`` keyring, and publishes the certificate first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371_akash.market import CliConfig
from minds371_sandbox import write_standin_binaries


@dataclass
class Standins:
    """The written executables and the akash home they use."""

    bins: dict[str, Path]
    home: Path

    def env(self, node: str, **extra: str) -> dict[str, str]:
        """A process environment for running them against ``node``."""
        return {
            **os.environ,
            "AKASH_NODE": node,
            "AKASH_HOME": str(self.home),
            "AKASH_KEYRING_BACKEND": "test",
            **extra,
        }

    def config(self, node: str, key: str, **overrides: Any) -> CliConfig:
        """A :class:`CliConfig` for key ``key`` (``test`` keyring) at ``node``."""
        values: dict[str, Any] = {
            "akash": str(self.bins["akash"]),
            "provider_services": str(self.bins["provider-services"]),
            "key_name": key,
            "node": node,
            "keyring_backend": "test",
        }
        return CliConfig(**{**values, **overrides})

    async def run(self, node: str, program: str, *args: str) -> tuple[int, str, str]:
        """Run one of them; exit code, stdout, stderr."""
        done = await anyio.run_process(
            [str(self.bins[program]), *args], env=self.env(node), check=False
        )
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    async def certify(self, node: str, key: str) -> None:
        """``akash tx cert generate client`` then ``publish client`` for ``key``."""
        for step in ("generate", "publish"):
            argv = ("tx", "cert", step, "client", "--from", key)
            code, _, err = await self.run(node, "akash", *argv)
            assert code == 0, err


def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Standins:
    """Write the stand-ins under ``tmp_path``; ``AKASH_HOME`` points at a home there."""
    home = tmp_path / "akash-home"
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("AKASH_HOME", str(home))
    return Standins(write_standin_binaries(tmp_path / "bin"), home)
