"""Running the ``akash`` and ``provider-services`` binaries for the CLI backend.

Builds each command line from :class:`CliConfig` (``--from``, ``--node``, ``--chain-id``,
``--keyring-backend``, the transaction flags, ``-o json``), runs it with a deadline, turns a
non-zero exit or a transaction's non-zero ``code`` into the error it means, and keeps the SDL
files the commands read.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minds371.errors import MarketError
from minds371_akash.market._cli_config import CliConfig
from minds371_akash.market._process import CommandResult, classify_failure, run_command
from minds371_akash.market._retry import RetryPolicy, retry_call

__all__ = ["CliCommands"]


class CliCommands:
    """The command runner the CLI backend is built on.

    Args:
        config: Binaries, key and node.
        retry: Retry policy for queries and idempotent transactions.
    """

    def __init__(
        self, config: CliConfig | None = None, *, retry: RetryPolicy | None = None
    ) -> None:
        self.config = config or CliConfig()
        self._retry = retry or RetryPolicy()
        self._owner = self.config.owner
        self._workdir: Path | None = None
        self._sdl_files = itertools.count(1)

    async def aclose(self) -> None:
        """Remove the temporary SDL files."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # -- running ------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {"AKASH_NODE": self.config.node} if self.config.node else {}

    def _common(self) -> list[str]:
        flags: list[str] = []
        if self.config.node:
            flags += ["--node", self.config.node]
        return flags

    def _tx_common(self) -> list[str]:
        flags = ["--from", self.config.key_name, *self._common()]
        if self.config.chain_id:
            flags += ["--chain-id", self.config.chain_id]
        if self.config.keyring_backend:
            flags += ["--keyring-backend", self.config.keyring_backend]
        return [*flags, *self.config.tx_flags, "-o", "json"]

    async def _run(self, argv: Sequence[str]) -> CommandResult:
        result = await run_command(argv, env=self._env(), deadline=self.config.timeout)
        if result.returncode != 0:
            raise classify_failure(argv, result.stderr or result.stdout, code=result.returncode)
        return result

    async def _query(self, *args: str) -> Any:
        argv = [self.config.akash, "query", *args, *self._common(), "-o", "json"]
        return await retry_call(self._retry, lambda: self._json(argv), what=" ".join(args[:3]))

    async def _json(self, argv: Sequence[str]) -> Any:
        return (await self._run(argv)).json()

    async def _tx(self, *args: str) -> Mapping[str, Any]:
        argv = [self.config.akash, "tx", *args, *self._tx_common()]
        doc = (await self._run(argv)).json()
        if not isinstance(doc, Mapping):
            raise MarketError(f"`akash tx {' '.join(args[:2])}` printed no transaction")
        code = int(doc.get("code") or 0)
        if code != 0:
            raise classify_failure(argv, str(doc.get("raw_log") or doc), code=code)
        return doc

    async def _provider_services(self, *args: str) -> CommandResult:
        argv = [
            self.config.provider_services,
            *args,
            "--from",
            self.config.key_name,
            *self._common(),
        ]
        return await self._run(argv)

    def _sdl_file(self, sdl: str) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="minds371-sdl-"))
        # One backend serves concurrent tasks: every SDL gets a file of its own.
        path = self._workdir / f"deploy-{next(self._sdl_files)}.yaml"
        path.write_text(sdl, encoding="utf-8")
        return path

    async def owner(self) -> str:
        """The signing key's address."""
        if self._owner is None:
            argv = [self.config.akash, "keys", "show", self.config.key_name, "-a"]
            if self.config.keyring_backend:
                argv += ["--keyring-backend", self.config.keyring_backend]
            self._owner = (await self._run(argv)).stdout.strip().splitlines()[-1].strip()
        return self._owner
