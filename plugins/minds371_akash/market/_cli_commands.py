"""Running the ``akash`` and ``provider-services`` binaries for the CLI backend.

Builds each command line from :class:`CliConfig` (``--from``, ``--node``, ``--chain-id``,
``--keyring-backend``, the transaction flags, ``-o json``), runs it with a deadline, turns a
non-zero exit or a transaction's non-zero ``code`` into the error it means, and keeps the SDL
files the commands read.

Transactions go out one at a time per signing key, each with ``--broadcast-mode block``: the
chain-sdk CLI starts in block mode (``go/cli/root.go``), but ``AKASH_BROADCAST_MODE=sync`` (a
common export) makes a command return once the tx is in the mempool, and a second tx from the
same account before the next block then fails with "account sequence mismatch"
(``go/node/client/v1beta3/tx.go``).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import anyio

from minds371.errors import MarketError
from minds371_akash.market._cli_config import CliConfig
from minds371_akash.market._process import CommandResult, classify_failure, run_command
from minds371_akash.market._retry import RetryPolicy, retry_call

__all__ = ["CliCommands"]

#: Lists are paged by the chain (``--limit`` defaults to 100, chain-sdk
#: ``go/cli/flags/flags.go`` ``AddPaginationFlagsToCmd``); this many pages at most.
_MAX_PAGES = 1000


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

    #: One lock per signing key (binary, node, key): backends of one process share them.
    _tx_locks: ClassVar[dict[tuple[str, str, str], anyio.Lock]] = {}

    def _tx_lock(self) -> anyio.Lock:
        key = (self.config.akash, self.config.node or "", self.config.key_name)
        return self._tx_locks.setdefault(key, anyio.Lock())

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

    def _keyring(self) -> list[str]:
        if self.config.keyring_backend:
            return ["--keyring-backend", self.config.keyring_backend]
        return []

    def _tx_common(self) -> list[str]:
        flags = ["--from", self.config.key_name, *self._common()]
        if self.config.chain_id:
            flags += ["--chain-id", self.config.chain_id]
        flags += self._keyring()
        # Last, so that it wins over a --broadcast-mode in tx_flags (pflag keeps the last value).
        return [*flags, *self.config.tx_flags, "--broadcast-mode", "block", "-o", "json"]

    async def _run(self, argv: Sequence[str]) -> CommandResult:
        result = await run_command(argv, env=self._env(), deadline=self.config.timeout)
        if result.returncode != 0:
            raise classify_failure(
                argv, f"{result.stderr}\n{result.stdout}", code=result.returncode
            )
        return result

    async def _query(self, *args: str) -> Any:
        argv = [self.config.akash, "query", *args, *self._common(), "-o", "json"]
        return await retry_call(self._retry, lambda: self._json(argv), what=" ".join(args[:3]))

    async def _query_pages(self, *args: str, parse: Callable[[Any], list[Any]]) -> list[Any]:
        """A list query through every page (``--page-key`` from ``pagination.next_key``)."""
        out: list[Any] = []
        page_key = ""
        for _ in range(_MAX_PAGES):
            paging = ["--page-key", page_key] if page_key else []
            doc = await self._query(*args, *paging)
            out += parse(doc)
            pagination = doc.get("pagination") if isinstance(doc, Mapping) else None
            page_key = str((pagination or {}).get("next_key") or "")
            if not page_key:
                return out
        raise MarketError(f"`akash query {' '.join(args[:2])}` has more than {_MAX_PAGES} pages")

    async def _json(self, argv: Sequence[str]) -> Any:
        return (await self._run(argv)).json()

    async def _tx(self, *args: str) -> Mapping[str, Any]:
        argv = [self.config.akash, "tx", *args, *self._tx_common()]
        async with self._tx_lock():
            doc = (await self._run(argv)).json()
        if not isinstance(doc, Mapping):
            raise MarketError(f"`akash tx {' '.join(args[:2])}` printed no transaction")
        code = int(doc.get("code") or 0)
        if code != 0:
            raise classify_failure(argv, str(doc.get("raw_log") or doc), code=code)
        return doc

    async def _provider_services(self, *args: str) -> CommandResult:
        return await self._run([self.config.provider_services, *args, *self._provider_common()])

    def _provider_common(self) -> list[str]:
        """``--from``, ``--node`` and ``--keyring-backend`` for ``provider-services``.

        No ``--chain-id``: its lease commands do not have that flag
        (``cmd/provider-services/cmd/helpers.go`` ``addCmdFlags``).
        """
        return ["--from", self.config.key_name, *self._common(), *self._keyring()]

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
