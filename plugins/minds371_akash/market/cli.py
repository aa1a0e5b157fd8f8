"""The ``akash`` and ``provider-services`` binaries as a market backend.

The way a shell-script agent deploys (``reference/akash.md`` §3)::

    akash tx deployment create deploy.yml --dseq N --from K -o json
    akash query market bid list --owner O --dseq N -o json
    akash tx market lease create --dseq N --gseq G --oseq O --provider P --from K -o json
    provider-services send-manifest deploy.yml --dseq N --provider P --from K
    provider-services lease-status | lease-logs | lease-events --dseq N --provider P --from K
    akash tx escrow deposit deployment 1000000uact --dseq N --from K
    akash tx deployment close --dseq N --from K

Every transaction is sent with ``--broadcast-mode block``, one at a time per key (see
:mod:`._cli_commands`). ``tx deployment create`` needs a client certificate (a file in the akash
home and published on chain, chain-sdk ``go/cli/deployment_tx.go``): this backend checks the
chain for one before the first spend and says how to make one.

Unlike Console, the owner picks the dseq, so creating is idempotent: this backend picks a dseq
first (milliseconds since the epoch, strictly increasing in this process) and, after an ambiguous
failure, asks the chain whether that dseq exists before trying again with the same dseq.

Configure it with :class:`CliConfig` (or ``CliConfig.from_env()``: ``MINDS371_AKASH_BIN``,
``MINDS371_PROVIDER_SERVICES_BIN``, ``MINDS371_AKASH_KEY``, ``AKASH_NODE``, ``AKASH_CHAIN_ID``,
``AKASH_KEYRING_BACKEND``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import anyio

from minds371.errors import ConfigurationError, FieldIssue, ProviderError, ValidationError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_akash.market._cli_commands import CliCommands
from minds371_akash.market._cli_config import CliConfig
from minds371_akash.market._errors import NotFound
from minds371_akash.market._models import (
    Bid,
    CreatedDeployment,
    Deployment,
    KubeEvent,
    Lease,
    LeaseId,
    LogLine,
    Price,
    Provider,
)
from minds371_akash.market._parse import (
    guarded,
    parse_bid,
    parse_deployment,
    parse_kube_event,
    parse_lease,
    parse_lease_status,
    parse_log_line,
    parse_provider,
)
from minds371_akash.market._process import (
    CERTIFICATE_HOWTO,
    classify_failure,
    json_values,
    run_command,
    stream_json_values,
)
from minds371_akash.market._retry import retry_call

__all__ = ["CliBackend", "CliConfig"]

_log = get_logger("minds371.akash.cli")
_MANIFEST_TRIES = 4


class CliBackend(CliCommands, AsyncResource):
    """The binaries as a market backend (see module docs).

    Args:
        config: Binaries, key and node.
        retry: Retry policy for queries and idempotent transactions.
    """

    name = "cli"
    #: The owner's key can send ``MsgCloseLease`` (see :meth:`close_lease`).
    can_close_lease = True
    _last_dseq: ClassVar[int] = 0
    _certified: ClassVar[set[tuple[str, str]]] = set()

    @classmethod
    def _next_dseq(cls) -> int:
        cls._last_dseq = max(cls._last_dseq + 1, time.time_ns() // 1_000_000)
        return cls._last_dseq

    # -- deployments --------------------------------------------------------------------------

    async def create_deployment(
        self,
        sdl: str,
        *,
        version: str,
        manifest: str,
        deposit: Decimal | None = None,
        unique_version: bool = False,
    ) -> CreatedDeployment:
        """``akash tx deployment create`` with a dseq chosen here (idempotent on retry).

        The dseq is this client's, so a lost create is found by it: ``unique_version`` changes
        nothing here.
        """
        owner = await self.owner()
        await self._require_certificate(owner)
        dseq = self._next_dseq()
        path = self._sdl_file(sdl)
        args = ["deployment", "create", str(path), "--dseq", str(dseq)]
        if deposit is not None:
            args += ["--deposit", f"{deposit.normalize():f}uact"]
        attempt = 1
        while True:
            try:
                tx = await self._tx(*args)
                return CreatedDeployment(
                    dseq=dseq, manifest=manifest, owner=owner, tx_hash=str(tx.get("txhash", ""))
                )
            except ProviderError as exc:
                failure = exc
            # Whatever went wrong, the chain knows whether this dseq exists.
            try:
                existing = await self.get_deployment(dseq, with_status=False)
            except NotFound:
                existing = None
            if existing is not None and existing.version in ("", version.lower()):
                _log.warning("minds371.akash.deployment_recovered", dseq=dseq)
                return CreatedDeployment(dseq=dseq, manifest=manifest, owner=owner, recovered=True)
            if not failure.retryable or attempt >= self._retry.maximum_attempts:
                raise failure
            await anyio.sleep(self._retry.delay(attempt))
            attempt += 1

    async def _require_certificate(self, owner: str) -> None:
        """Refuse before any spend when the key has no valid client certificate on chain.

        ``akash tx deployment create`` refuses without one ("no certificate file found for
        account …", chain-sdk ``go/cli/deployment_tx.go``, ``go/util/tls/utils.go``).
        """
        key = (self.config.node or "", owner)
        if key in self._certified:
            return
        doc = await self._query("cert", "list", "--owner", owner, "--state", "valid")
        certificates = doc.get("certificates") if isinstance(doc, dict) else None
        if not certificates:
            raise ConfigurationError(
                f"the key {self.config.key_name!r} ({owner}) has no valid client certificate "
                f"on chain. {CERTIFICATE_HOWTO}",
                details={"owner": owner},
            )
        self._certified.add(key)

    async def list_deployments(self) -> list[Deployment]:
        """``akash query deployment list --owner O --state active``, every page."""
        return await self._query_pages(
            "deployment", "list", "--owner", await self.owner(), "--state", "active",
            parse=lambda doc: guarded(
                "deployment list",
                lambda d: [parse_deployment(x, leases=[]) for x in d.get("deployments") or []],
                doc,
            ),
        )  # fmt: skip

    async def find_deployments(self, version: str) -> list[Deployment]:
        """Active deployments whose manifest version hash (hex) is ``version``."""
        return [d for d in await self.list_deployments() if d.version == version.lower()]

    async def get_deployment(self, dseq: int, *, with_status: bool = True) -> Deployment:
        """The deployment, its leases and each active lease's status.

        The queries run side by side: each is a process start, and polling waits on them.
        """
        owner = await self.owner()
        found: dict[str, Any] = {}

        async def deployment() -> None:
            found["doc"] = await self._query(
                "deployment", "get", "--owner", owner, "--dseq", str(dseq)
            )

        async def leases() -> None:
            found["leases"] = await self._leases(dseq)

        await _side_by_side(deployment, leases)
        listed: list[Lease] = found["leases"]
        if with_status:
            statuses: dict[LeaseId, Any] = {}

            async def status(lease: Lease) -> None:
                statuses[lease.id] = await self._lease_status(lease.id)

            await _side_by_side(*(partial(status, x) for x in listed if x.active))
            listed = [x.model_copy(update={"status": statuses.get(x.id)}) for x in listed]
        dep = guarded("deployment", lambda d: parse_deployment(d, leases=[]), found["doc"])
        return dep.model_copy(update={"leases": tuple(listed)})

    async def _leases(self, dseq: int) -> list[Lease]:
        """Every lease of ``dseq``, every page.

        ``--gseq 0 --oseq 0``: the lease list filters on group 1 and order 1 unless told
        otherwise (chain-sdk ``go/cli/flags/market.go`` ``AddLeaseFilterFlags``), which would
        hide every other group's lease.
        """
        owner = await self.owner()
        raw = await self._query_pages(
            "market", "lease", "list", "--owner", owner, "--dseq", str(dseq),
            "--gseq", "0", "--oseq", "0",
            parse=lambda doc: guarded("lease list", lambda d: list(d.get("leases") or []), doc),
        )  # fmt: skip
        return [guarded("lease", parse_lease, x) for x in raw]

    async def _lease_status(self, lease: LeaseId) -> Any:
        # No -o: lease-status has no output flag and always prints indented JSON
        # (cmd/provider-services/cmd/leaseStatus.go, chain-sdk go/cli/utils.go PrintJSON).
        try:
            result = await self._provider_services(
                "lease-status", "--dseq", str(lease.dseq), "--gseq", str(lease.gseq),
                "--oseq", str(lease.oseq), "--provider", lease.provider,
            )  # fmt: skip
            return guarded("lease status", parse_lease_status, result.json())
        except ProviderError:
            return None  # as Console does: no status when the provider does not answer

    async def update_deployment(self, dseq: int, sdl: str) -> Deployment:
        """``akash tx deployment update`` then the manifest to every active lease's provider."""
        path = self._sdl_file(sdl)
        await self._tx("deployment", "update", str(path), "--dseq", str(dseq))
        deployment = await self.get_deployment(dseq, with_status=False)
        await self.send_manifest(
            dseq, [x.id for x in deployment.active_leases], manifest="", sdl=sdl
        )
        return await self.get_deployment(dseq)

    async def close_deployment(self, dseq: int) -> None:
        """``akash tx deployment close``; an already closed deployment counts as closed."""
        try:
            await self._tx("deployment", "close", "--dseq", str(dseq))
        except ProviderError as exc:
            try:
                deployment = await self.get_deployment(dseq, with_status=False)
            except ProviderError:
                raise exc from None
            if deployment.active:
                raise exc from None

    async def deposit(self, dseq: int, amount: Price) -> Deployment:
        """``akash tx escrow deposit deployment <amount><denom> --dseq N``."""
        coin = f"{amount.amount.normalize():f}{amount.denom}"
        await self._tx("escrow", "deposit", "deployment", coin, "--dseq", str(dseq))
        return await self.get_deployment(dseq, with_status=False)

    # -- bids and leases ----------------------------------------------------------------------

    async def list_bids(self, dseq: int) -> list[Bid]:
        """``akash query market bid list --owner O --dseq N`` (every group and order)."""
        doc = await self._query(
            "market", "bid", "list", "--owner", await self.owner(), "--dseq", str(dseq),
            "--gseq", "0", "--oseq", "0",
        )  # fmt: skip
        return guarded("bid list", lambda d: [parse_bid(x) for x in d.get("bids") or []], doc)

    async def create_leases(
        self, dseq: int, bids: Sequence[LeaseId], *, manifest: str, sdl: str
    ) -> Deployment:
        """``akash tx market lease create`` per bid, then ``send-manifest`` to each provider."""
        have = {(x.id.gseq, x.id.oseq, x.id.provider) for x in await self._leases(dseq) if x.active}
        for bid in bids:
            if (bid.gseq, bid.oseq, bid.provider) in have:
                continue  # an earlier attempt got this far
            await self._tx(
                "market", "lease", "create", "--dseq", str(dseq), "--gseq", str(bid.gseq),
                "--oseq", str(bid.oseq), "--provider", bid.provider,
            )  # fmt: skip
        await self.send_manifest(dseq, bids, manifest=manifest, sdl=sdl)
        return await self.get_deployment(dseq)

    async def close_lease(self, lease: LeaseId) -> None:
        """``akash tx market lease close``: the owner closes one lease; the group re-opens.

        After a refusal or an ambiguous failure the chain is asked about the lease: one that
        is no longer active counts as closed (the close landed, or the provider or the escrow
        closed it first), so retrying, here or by the caller, is harmless. Retryable failures
        are retried by the backend's policy.

        Raises:
            ValidationError: the lease belongs to another owner than the signing key.
            NotFound: no such lease.
            MarketError: the chain refused (``order closed``, ``bid not active``, …) while the
                lease is still active, or the node could not be reached (retryable).
        """
        owner = await self.owner()
        if lease.owner != owner:
            # The CLI takes the lease's owner from --from: sending this would close (or fail
            # to find) a lease of the signing key's own deployment with the same numbers.
            raise ValidationError(
                [FieldIssue("/owner", f"the lease belongs to {lease.owner}, not to {owner}")],
                subject="lease",
            )
        await retry_call(self._retry, lambda: self._close_lease_once(lease), what="lease close")

    async def _close_lease_once(self, lease: LeaseId) -> None:
        try:
            await self._tx(
                "market", "lease", "close", "--dseq", str(lease.dseq), "--gseq", str(lease.gseq),
                "--oseq", str(lease.oseq), "--provider", lease.provider,
            )  # fmt: skip
        except ProviderError as exc:
            try:
                leases = await self._leases(lease.dseq)
            except ProviderError:
                raise exc from None
            found = next((x for x in leases if _same_lease(x.id, lease)), None)
            if found is None or found.active:
                raise exc from None
            _log.info(
                "minds371.akash.lease_already_closed",
                dseq=lease.dseq, gseq=lease.gseq, oseq=lease.oseq, state=found.state,
            )  # fmt: skip
            return
        _log.info(
            "minds371.akash.lease_closed",
            dseq=lease.dseq, gseq=lease.gseq, oseq=lease.oseq, provider=lease.provider,
        )  # fmt: skip

    async def send_manifest(
        self, dseq: int, leases: Sequence[LeaseId], *, manifest: str, sdl: str
    ) -> None:
        """``provider-services send-manifest`` (retrying "no lease" and "no active leases").

        The command sends to the provider of every active lease of the deployment, whatever
        ``--provider`` says (``leasesForDeployment``, ``cmd/provider-services/cmd/helpers.go``),
        and prints each provider's answer: it succeeds here when every provider of ``leases``
        passed, even if another provider of the deployment failed.
        """
        wanted = sorted({lease.provider for lease in leases})
        if not wanted:
            return
        path = self._sdl_file(sdl)
        pause = self.config.block_time or 6.0
        for attempt in range(1, _MANIFEST_TRIES + 1):
            try:
                await self._send_manifest_once(path, dseq, wanted)
                return
            except ProviderError as exc:
                # The provider (or, after a sync broadcast, the chain) may not have seen the
                # lease yet: 404 "no lease for deployment", "no active leases found".
                if not exc.retryable or attempt == _MANIFEST_TRIES:
                    raise
                await anyio.sleep(pause)

    async def _send_manifest_once(self, path: Path, dseq: int, wanted: Sequence[str]) -> None:
        argv = [
            self.config.provider_services, "send-manifest", str(path), "--dseq", str(dseq),
            "--provider", wanted[0], *self._provider_common(), "-o", "json",
        ]  # fmt: skip
        result = await run_command(argv, env=self._env(), deadline=self.config.timeout)
        if result.returncode == 0:
            return
        passed = {
            str(x.get("provider"))
            for value in json_values(result.stdout)
            if isinstance(value, list)
            for x in value
            if isinstance(x, dict) and x.get("status") == "PASS"
        }
        if not set(wanted) <= passed:
            raise classify_failure(
                argv, f"{result.stderr}\n{result.stdout}", code=result.returncode
            )

    # -- providers ----------------------------------------------------------------------------

    async def list_providers(self) -> list[Provider]:
        """``akash query provider list``, every page."""
        return await self._query_pages(
            "provider",
            "list",
            parse=lambda doc: guarded(
                "provider list",
                lambda d: [parse_provider(x) for x in d.get("providers") or []],
                doc,
            ),
        )

    async def get_provider(self, address: str) -> Provider:
        """``akash query provider get ADDRESS``."""
        return guarded("provider", parse_provider, await self._query("provider", "get", address))

    async def block_time(self) -> float | None:
        """The configured block time."""
        return self.config.block_time

    # -- logs and events ----------------------------------------------------------------------

    def _lease_args(self, lease: LeaseId) -> list[str]:
        return [
            "--dseq", str(lease.dseq), "--gseq", str(lease.gseq), "--oseq", str(lease.oseq),
            "--provider", lease.provider, *self._provider_common(),
        ]  # fmt: skip

    async def lease_logs(
        self,
        lease: LeaseId,
        *,
        services: Sequence[str] = (),
        tail: int | None = None,
        follow: bool = False,
    ) -> AsyncGenerator[LogLine, None]:
        """``provider-services lease-logs … -o json`` (``-f`` to follow).

        The command streams every active lease of the deployment, each entry tagged with its
        ``lease_id`` and printed as indented JSON (``cmd/provider-services/cmd/leaseLogs.go``):
        only this lease's entries are kept.
        """
        argv = [self.config.provider_services, "lease-logs", *self._lease_args(lease), "-o", "json"]
        if services:
            argv += ["--service", ",".join(services)]
        if tail is not None:
            argv += ["--tail", str(tail)]
        if follow:
            argv.append("-f")
        async for item in stream_json_values(argv, env=self._env()):
            if _of_lease(item, lease):
                yield guarded("log line", parse_log_line, item)

    async def lease_events(
        self, lease: LeaseId, *, services: Sequence[str] = (), follow: bool = False
    ) -> AsyncGenerator[KubeEvent, None]:
        """``provider-services lease-events``; only this lease's events are kept.

        It prints indented JSON always and has no ``-o`` flag
        (``cmd/provider-services/cmd/leaseEvents.go``).
        """
        argv = [self.config.provider_services, "lease-events", *self._lease_args(lease)]
        if services:
            argv += ["--service", ",".join(services)]
        if follow:
            argv.append("-f")
        async for item in stream_json_values(argv, env=self._env()):
            if _of_lease(item, lease):
                yield guarded("event", parse_kube_event, item)


def _of_lease(item: Any, lease: LeaseId) -> bool:
    """Whether a streamed entry belongs to ``lease`` (entries without a ``lease_id`` do)."""
    lid = item.get("lease_id") if isinstance(item, dict) else None
    if not isinstance(lid, dict):
        return True
    try:
        return (int(lid.get("gseq", 0)), int(lid.get("oseq", 0)), str(lid.get("provider"))) == (
            lease.gseq,
            lease.oseq,
            lease.provider,
        )
    except (TypeError, ValueError):
        return False


def _same_lease(a: LeaseId, b: LeaseId) -> bool:
    return (a.dseq, a.gseq, a.oseq, a.provider) == (b.dseq, b.gseq, b.oseq, b.provider)


async def _side_by_side(*calls: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``calls`` concurrently; a failure comes out as itself, not in an exception group."""
    try:
        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(call)
    except BaseExceptionGroup as group:
        first = group.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
