"""The Console managed-wallet REST API as a :class:`~minds371_akash.market.MarketBackend`.

Speaks exactly the routes and envelopes of ``console-api.akash.network`` (and of the sandbox,
which serves the same API): request bodies are ``{"data": …}`` except ``POST /v1/leases``;
responses are ``{"data": …}`` except ``/v1/providers*``; ``dseq`` goes out as a decimal string;
the manifest string returned by create is sent back verbatim. Logs and events go to the provider
gateway with a JWT from ``POST /v1/create-jwt-token``.

Usage::

    async with ConsoleBackend(api_key=key) as market:
        created = await market.create_deployment(sdl_yaml, version=manifest.version,
                                                 manifest=manifest.json)
        bids = await market.list_bids(created.dseq)

Retries: every call except create is idempotent on Console (``POST /v1/leases`` skips lease
creation when leases exist) and is retried under the :class:`RetryPolicy`. Create is **not**:
Console picks the dseq, so after an ambiguous failure (a timeout or 5xx once the request may have
been processed) the backend looks for an active deployment with the same manifest version that did
not exist before the call, and adopts it (``CreatedDeployment.recovered``) instead of creating a
second one (:mod:`._create_guard`). Within one process, concurrent creates never adopt each
other's deployments.

Funding: every create carries a deposit (Console refuses one without). On a trial wallet, where
each create closes the wallet's lease-less deployments, creates are serialized per wallet from
the create until the lease (:class:`~._create_guard.TrialCreateSlot`). Console's auto top-up is
switched per deployment with :meth:`ConsoleBackend.set_auto_top_up`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import anyio
import httpx
from pydantic import SecretStr

from minds371.config import require_network
from minds371.errors import (
    ConfigurationError,
    FieldIssue,
    LeaseError,
    MarketError,
    ProviderError,
    ValidationError,
)
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger, register_secret
from minds371_akash.market._console_gateway import ConsoleGatewayAccess
from minds371_akash.market._create_guard import CreateGuard, TrialCreateSlot
from minds371_akash.market._errors import NotFound, console_error, transport_error
from minds371_akash.market._funding import AutoTopUp, parse_auto_top_up
from minds371_akash.market._models import (
    Bid,
    CreatedDeployment,
    Deployment,
    LeaseId,
    Price,
    Provider,
)
from minds371_akash.market._parse import (
    guarded,
    parse_bid,
    parse_deployment,
    parse_deployment_version,
    parse_provider,
)
from minds371_akash.market._retry import RetryPolicy, retry_call
from minds371_akash.market._single_flight import SingleFlight

__all__ = [
    "DEFAULT_CONSOLE_URL",
    "DEFAULT_DEPOSIT_UACT",
    "ConsoleBackend",
    "lease_timeout",
    "reaches_network",
]

DEFAULT_CONSOLE_URL = "https://console-api.akash.network"
#: What a create deposits when its caller names no amount: the chain's ``min_deposits`` for uact
#: since v2.0.0, and the $0.50 Console's own web app sends.
DEFAULT_DEPOSIT_UACT = Decimal(500_000)
#: What Console's lease transaction may take before the manifest goes out (a few blocks).
_LEASE_TX_SECONDS = 60.0
#: One provider's manifest send on Console: 3 attempts of 15 s, 6 s apart.
_MANIFEST_SEND_SECONDS = 3 * 15.0 + 2 * 6.0
#: A provider's 404 before it has seen the lease (Console passes its text on).
_NO_LEASE_YET = "no lease for deployment"
if TYPE_CHECKING:
    from minds371_akash.market._pooled_transport import PooledTransport

_log = get_logger("minds371.akash.console")
#: What httpx sends on every request, sent on the direct path too (the server sees one client),
#: except that only the encodings aiohttp decodes are offered.
_DEFAULT_HEADERS = {
    "accept": "*/*",
    "accept-encoding": "gzip, deflate",
    "connection": "keep-alive",
    "user-agent": f"python-httpx/{httpx.__version__}",
}
T = TypeVar("T")


class ConsoleBackend(ConsoleGatewayAccess, AsyncResource):
    """The Console API (or the sandbox serving it) as a market backend.

    Args:
        base_url: API root; ``MINDS371_CONSOLE_URL`` or the production URL when omitted.
        api_key: The managed-wallet API key (sent as ``x-api-key``; never logged).
        http_client: A client to use (its transport is kept; it is not closed here). By
            default the backend makes its own on a pooled aiohttp transport, with a connection
            for every lane below (httpx's default pool costs too much CPU per call in bursts).
        retry: Retry policy for idempotent calls.
        timeout: Seconds per HTTP request.
        block_time: The network's block time in seconds, when known (for cost reports).
        gateway_client: Client for provider gateways whose ``hostUri`` is not under
            ``base_url``; by default one is created that accepts the providers' self-signed
            certificates (their identity is on chain, not in a public CA).
        snapshot_ttl: Seconds one listing of the account's deployments serves the creates that
            follow it (see :meth:`create_deployment`).
        max_concurrent_requests: Reads (``GET``) in flight at once; more wait their turn here
            (the API is shared, and hundreds of polls at once help nobody).
        max_concurrent_writes: Writes (``POST``, ``PUT``, ``DELETE``) in flight at once, in a
            lane of their own: Console holds a write until its transaction is in a block (and
            a lease until the provider has the manifest), and reads must not queue behind that.
            Each held write is an idle connection, so the lane is wide: 256 creates go into one
            block instead of four blocks of 64. With a client of your own, size its pool to
            the sum of both lanes.
        default_deposit: The deposit (uact) a create sends when its caller names none.
        trial_hold: Longest a create on a trial wallet holds back the next one (seconds).
        provider_ttl: Seconds one read of a provider (``GET /v1/providers/{address}``) answers
            later asks for it (see :meth:`get_provider`); 0 asks every time.
    """

    name = "console"
    #: Console validates SDLs and builds manifests and versions with chain-sdk TypeScript
    #: (``console:apps/api/src/deployment/services/sdl/sdl.service.ts``), not Go's rules.
    sdl_rules = "console"
    #: The Console API has no route that closes one lease (see :meth:`close_lease`).
    can_close_lease = False
    #: Console lists only bids from providers its auditor signed: ``GET /v1/bids`` filters by
    #: ``MANAGED_WALLET_LEASE_ALLOWED_AUDITORS``
    #: (``console:apps/api/src/bid/services/bid/bid.service.ts``, ``filterBidsByAuditedProviders``),
    #: so a provider that is not audited is no candidate to wait for.
    lists_audited_bids_only = True

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: SecretStr | str | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        block_time: float | None = None,
        gateway_client: httpx.AsyncClient | None = None,
        snapshot_ttl: float = 1.0,
        max_concurrent_requests: int = 64,
        max_concurrent_writes: int = 256,
        default_deposit: Decimal = DEFAULT_DEPOSIT_UACT,
        trial_hold: float = 900.0,
        provider_ttl: float = 10.0,
    ) -> None:
        if base_url is None:
            if http_client is not None and str(http_client.base_url):
                base_url = str(http_client.base_url)
            else:
                base_url = os.environ.get("MINDS371_CONSOLE_URL", "").strip() or DEFAULT_CONSOLE_URL
        self._base_url = base_url.rstrip("/")
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else (api_key or "")
        if not key.strip():
            raise ConfigurationError(
                "the Console API needs an API key: set MINDS371_CONSOLE_API_KEY "
                "(create one in Akash Console under API keys)"
            )
        register_secret(key)
        if reaches_network(http_client):
            require_network(self._base_url, what="Console API")
        self._api_key = SecretStr(key)
        self._own_client = http_client is None
        # The transport of a client made here: Console calls go straight through it (see _send).
        self._pool: PooledTransport | None = None
        self._max_concurrent = max(1, max_concurrent_requests)
        self._max_writes = max(1, max_concurrent_writes)
        self._client = http_client or self._pooled_client(timeout)
        self._own_gateway = gateway_client is None
        self._gateway_client = gateway_client
        self._origin_client: httpx.AsyncClient | None = None
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._block_time = block_time
        self._default_deposit = default_deposit
        self._trial: bool | None = None
        self._trial_hold = trial_hold
        self._token: tuple[str, float] | None = None
        self._create_guard = CreateGuard(
            self._base_url,
            self.list_deployments,
            list_versions=self._listed_versions,
            snapshot_ttl=snapshot_ttl,
            block_time=block_time,
        )
        self._limiter: anyio.Semaphore | None = None
        self._write_limiter: anyio.Semaphore | None = None
        self._token_lock: anyio.Lock | None = None
        self._provider_reads: SingleFlight[Provider] = SingleFlight()
        self._trial_read: SingleFlight[bool] = SingleFlight()
        self._provider_ttl = provider_ttl
        self._providers_read: dict[str, tuple[float, Provider]] = {}

    def __repr__(self) -> str:
        return f"ConsoleBackend(base_url={self._base_url!r})"

    def _pooled_client(self, timeout: float) -> httpx.AsyncClient:
        # Imported here: aiohttp takes a tenth of a second to import, and the in-process
        # sandbox (the default network) brings a client of its own.
        from minds371_akash.market._pooled_transport import PooledTransport

        # Every lane gets a connection: a held write must not keep a read waiting for one.
        pool = PooledTransport(max_connections=self._max_concurrent + self._max_writes)
        self._pool = pool
        return httpx.AsyncClient(timeout=timeout, transport=pool)

    @property
    def base_url(self) -> str:
        """The API root this backend talks to."""
        return self._base_url

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The HTTP client it talks through (in-process sandbox: one into the ASGI app)."""
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP clients this backend created (never one it was given)."""
        if self._own_client:
            await self._client.aclose()
        if self._origin_client is not None:
            await self._origin_client.aclose()
            self._origin_client = None
        if self._own_gateway and self._gateway_client is not None:
            await self._gateway_client.aclose()
            self._gateway_client = None

    # -- HTTP ---------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
        read_timeout: float | None = None,
    ) -> Any:
        what = f"{method} {path.split('?')[0]}"
        headers = {"x-api-key": self._api_key.get_secret_value()} if auth else {}
        if self._limiter is None or self._write_limiter is None:
            # Semaphores, not capacity limiters: a capacity limiter tracks its borrowers, which
            # nothing here needs.
            self._limiter = anyio.Semaphore(self._max_concurrent, fast_acquire=True)
            self._write_limiter = anyio.Semaphore(self._max_writes, fast_acquire=True)
        url = self._base_url + path + ("?" + urlencode(params) if params else "")
        timeout = max(self._timeout, read_timeout or 0.0)
        limiter = self._limiter if method == "GET" else self._write_limiter
        try:
            # A free slot without a trip through the event loop or a look at the current task
            # (the request itself is where a cancellation lands).
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            await limiter.acquire()
        try:
            status, raw = await self._exchange(method, url, headers, body, timeout, what)
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=what, where=self._base_url) from exc
        finally:
            limiter.release()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise MarketError(
                f"{what} returned a body that is not JSON (status {status})",
                retryable=status >= 500,
                details={"call": what, "status": status},
            ) from exc

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        seconds: float,
        what: str,
    ) -> tuple[int, bytes]:
        """One request's status and body; an error status raises (:func:`console_error`)."""
        pool = self._pool
        if pool is not None and pool.runs_here():
            # The client is ours and adds nothing (no hooks, no cookies Console would send, no
            # redirects to follow): skip its request and response objects.
            content = None if body is None else _json_bytes(body)
            if content is not None:
                headers["content-type"] = "application/json"
            answer = await pool.exchange(
                method,
                url,
                headers={**_DEFAULT_HEADERS, **headers},
                content=content,
                seconds=seconds,
            )
            if answer.status >= 400:
                raise console_error(answer.as_response(method, url), what=what)
            return answer.status, answer.content
        response = await self._client.request(
            method, url, json=body, headers=headers, timeout=seconds
        )
        if response.status_code >= 400:
            raise console_error(response, what=what)
        return response.status_code, response.content

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await retry_call(
            self._retry, lambda: self._send(method, path, **kwargs), what=f"{method} {path}"
        )

    @staticmethod
    def _data(doc: Any, what: str) -> Any:
        if not isinstance(doc, Mapping) or "data" not in doc:
            raise MarketError(f"{what} returned no data envelope", details={"call": what})
        return doc["data"]

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
        """Create a deployment from SDL text (``POST /v1/deployments``), at most once.

        Args:
            sdl: The SDL YAML, sent as is.
            version: The manifest version hash (hex) of this SDL, used to recognise a deployment
                already created by an earlier attempt.
            manifest: The canonical manifest JSON, used only when a deployment is recovered.
            deposit: Deposit in uact (default: ``default_deposit``); Console takes it in USD
                (1 ACT ≈ 1 USD), and ignores it on accounts with managed deposits.
            unique_version: No deployment of ``version`` can exist yet (the SDL carries a
                marker of this create's task, and a resumed task adopts its deployment before it
                creates again): the account listing that notes the version's existing
                deployments before the create is skipped, and a lost create is recognised as any
                deployment of the version that no other create of this process claimed. An
                account with a thousand deployments lists a megabyte or two of JSON.

        Raises:
            ValidationError: Console rejected the SDL.
            InsufficientFunds: the account cannot cover the deposit.
            MarketError: any other failure; nothing was created when it is raised after a
                failed recovery check.
        """
        # Console answers 400 "deposit is required" to a create without one unless the account
        # has managed deposits (``deployment-writer.service.ts`` ``resolveDepositInDollars``);
        # with them it ignores the amount. So a deposit always goes out, in dollars.
        uact = self._default_deposit if deposit is None else deposit
        body: dict[str, Any] = {"sdl": sdl, "deposit": float(uact / Decimal(1_000_000))}
        guard = self._create_guard
        before = frozenset() if unique_version else await guard.existing(version)
        slot = await self._trial_slot()
        if slot is not None:
            await slot.acquire()
        try:
            created = await self._create_once(guard, body, version, manifest, before)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        if slot is not None:
            slot.bind(created.dseq)
        return created

    async def _create_once(
        self,
        guard: CreateGuard,
        body: dict[str, Any],
        version: str,
        manifest: str,
        before: frozenset[int],
    ) -> CreatedDeployment:
        attempt = 1
        while True:
            with guard.attempt(version):
                try:
                    doc = await self._send("POST", "/v1/deployments", body={"data": body})
                    data = self._data(doc, "POST /v1/deployments")
                    created = guarded("created deployment", _created, data)
                    # Claimed while still in flight, so that no recovery can adopt it.
                    guard.claim(created.dseq)
                except ProviderError as exc:
                    failure: ProviderError | None = exc
                else:
                    failure = None
            if failure is None:
                _log.info("minds371.akash.deployment_created", dseq=created.dseq)
                return created
            if not failure.retryable or attempt >= self._retry.maximum_attempts:
                raise failure
            if failure.details.get("ambiguous", True) and "retry_after" not in failure.details:
                found = await guard.recover(
                    version, before, timed_out="status" not in failure.details
                )
                if found is not None:
                    _log.warning("minds371.akash.deployment_recovered", dseq=found.dseq)
                    return CreatedDeployment(
                        dseq=found.dseq, manifest=manifest, owner=found.owner, recovered=True
                    )
            await anyio.sleep(self._retry.delay(attempt, failure.details.get("retry_after")))
            attempt += 1

    async def list_deployments(self) -> list[Deployment]:
        """Every active deployment of the account (``GET /v1/deployments``, all pages)."""
        return await self._list_all(parse_deployment)

    async def _listed_versions(self) -> list[tuple[int, str]]:
        """``(dseq, manifest version)`` of every active deployment of the account.

        What the create guard needs before each create: parsing every deployment's leases and
        escrow as well would cost most of a listing's CPU on an account with many deployments.
        """
        return await self._list_all(parse_deployment_version)

    async def _list_all(self, parse: Callable[[Any], T]) -> list[T]:
        found: list[T] = []
        skip, limit = 0, 1000
        while True:
            doc = await self._call(
                "GET", "/v1/deployments", params={"skip": str(skip), "limit": str(limit)}
            )
            data = self._data(doc, "GET /v1/deployments")
            page = guarded("deployment list", lambda d: [parse(x) for x in d["deployments"]], data)
            found.extend(page)
            more = bool((data.get("pagination") or {}).get("hasMore")) if page else False
            if not more:
                return found
            skip += len(page)

    async def find_deployments(self, version: str) -> list[Deployment]:
        """Active deployments whose manifest version hash (hex) is ``version``."""
        return [d for d in await self.list_deployments() if d.version == version.lower()]

    async def get_deployment(self, dseq: int) -> Deployment:
        """A deployment with its leases and their live status (``GET /v1/deployments/{dseq}``).

        Raises:
            NotFound: no such deployment.
        """
        doc = await self._call("GET", f"/v1/deployments/{dseq}")
        return guarded("deployment", parse_deployment, self._data(doc, "GET /v1/deployments"))

    async def update_deployment(self, dseq: int, sdl: str) -> Deployment:
        """Send a new SDL (``PUT /v1/deployments/{dseq}``); Console re-sends the manifest."""
        # Console signs the update (when the version changed), then sends the manifest to each
        # lease's provider in turn with the same retries as POST /v1/leases
        # (console:apps/api/src/deployment/services/deployment-writer/
        # deployment-writer.service.ts, updateByUserIdAndDseq): the same time budget applies.
        current = await self.get_deployment(dseq)
        providers = {lease.id.provider for lease in current.leases if lease.active}
        doc = await self._call(
            "PUT",
            f"/v1/deployments/{dseq}",
            body={"data": {"sdl": sdl}},
            read_timeout=lease_timeout(len(providers)),
        )
        return guarded("deployment", parse_deployment, self._data(doc, "PUT /v1/deployments"))

    async def close_deployment(self, dseq: int) -> None:
        """Close a deployment and its leases (idempotent on an already-closed one)."""
        await self._call("DELETE", f"/v1/deployments/{dseq}")
        self._release_trial_slot(dseq)
        _log.info("minds371.akash.deployment_closed", dseq=dseq)

    async def close_lease(self, lease: LeaseId) -> None:
        """Refuse: the Console API cannot close one lease of a deployment.

        Raises:
            MarketError: always (not retryable); close the whole deployment, or use the
                ``cli`` network, whose owner key can send ``MsgCloseLease``.
        """
        raise MarketError(
            "the Console API cannot close a single lease: close the deployment, or use the "
            "cli network to close one lease",
            retryable=False,
            details={"dseq": lease.dseq, "gseq": lease.gseq, "oseq": lease.oseq},
        )

    async def deposit(self, dseq: int, amount: Price) -> Deployment:
        """Add funds to the deployment's escrow (Console takes USD; 1,000,000 uact = 1 USD)."""
        if amount.denom != "uact":
            raise ValidationError(
                [FieldIssue("/denom", f"Console deposits are made in uact, not {amount.denom!r}")],
                subject="deposit",
            )
        usd = float(amount.amount / Decimal(1_000_000))
        body = {"data": {"dseq": str(dseq), "deposit": usd}}
        doc = await self._call("POST", "/v1/deposit-deployment", body=body)
        return guarded("deployment", parse_deployment, self._data(doc, "POST /v1/deposit"))

    # -- bids and leases ----------------------------------------------------------------------

    async def list_bids(self, dseq: int) -> list[Bid]:
        """Bids on the deployment's orders (``GET /v1/bids?dseq=``); empty while waiting."""
        doc = await self._call("GET", "/v1/bids", params={"dseq": str(dseq)})
        data = self._data(doc, "GET /v1/bids")
        return guarded("bid list", lambda d: [parse_bid(x) for x in d], data)

    async def create_leases(
        self, dseq: int, bids: Sequence[LeaseId], *, manifest: str, sdl: str = ""
    ) -> Deployment:
        """Lease the chosen bids and send the manifest to their providers (``POST /v1/leases``).

        Console skips lease creation while any lease of the deployment is not closed
        (``lease.service.ts`` ``#hasActiveLease``), which makes this safe to retry and doubles as
        "send the manifest again"; it also means one group of a live multi-group deployment
        cannot be leased again here.

        The call may take a transaction and, per lease, up to three 15 s manifest sends 6 s
        apart, so it gets a timeout of its own (:func:`lease_timeout`). A 404 "no lease for
        deployment" (the provider had not seen the new lease yet; Console passes the provider's
        answer on) is retried: the retry creates nothing and sends the manifest again.
        """
        body = {
            "manifest": manifest,
            "leases": [
                {"dseq": str(dseq), "gseq": b.gseq, "oseq": b.oseq, "provider": b.provider}
                for b in bids
            ],
        }
        timeout = lease_timeout(len(bids))

        async def attempt() -> Any:
            try:
                return await self._send("POST", "/v1/leases", body=body, read_timeout=timeout)
            except NotFound as exc:
                if _NO_LEASE_YET not in str(exc.details.get("server_message", "")).lower():
                    raise
                raise LeaseError(exc.message, retryable=True, details=exc.details) from exc

        try:
            doc = await retry_call(self._retry, attempt, what="POST /v1/leases")
        except LeaseError as exc:
            if not exc.retryable:
                raise
            raise await self._skipped_lease(dseq, bids, exc) from exc
        self._release_trial_slot(dseq)
        return guarded("deployment", parse_deployment, self._data(doc, "POST /v1/leases"))

    async def _skipped_lease(
        self, dseq: int, bids: Sequence[LeaseId], failure: LeaseError
    ) -> LeaseError:
        """Explain a lease whose provider never saw it: was its creation skipped?"""
        try:
            deployment = await self.get_deployment(dseq)
        except ProviderError:
            return failure
        wanted = {(b.gseq, b.oseq, b.provider) for b in bids}
        made = {(x.id.gseq, x.id.oseq, x.id.provider) for x in deployment.leases}
        live = sorted({x.id.gseq for x in deployment.leases if x.state != "closed"})
        if live and not wanted & made:
            return LeaseError(
                f"Console created no lease on deployment {dseq}: it skips lease creation while "
                f"any lease of the deployment is active (gseq {', '.join(map(str, live))}), so "
                "one group of a live deployment cannot be leased again through Console",
                retryable=False,
                details={**failure.details, "dseq": dseq, "active_gseqs": live},
            )
        return failure

    async def send_manifest(
        self, dseq: int, leases: Sequence[LeaseId], *, manifest: str, sdl: str = ""
    ) -> None:
        """Send the manifest again to the providers of existing leases."""
        await self.create_leases(dseq, leases, manifest=manifest, sdl=sdl)

    # -- wallet, height and automatic funding ---------------------------------------------------

    async def is_trial_wallet(self) -> bool:
        """Whether the API key's wallet is trialing (``GET /v1/user/me``, ``GET /v1/wallets``).

        Asked once and remembered. When Console does not say, the wallet counts as a paying one
        (creates are then not serialized; see :meth:`create_deployment`); a transient failure
        is asked again at the next create.
        """
        if self._trial is None:
            try:
                # Once for a burst of creates: the first asks, those arriving meanwhile wait.
                self._trial = await self._trial_read.run("trial", self._ask_trial)
            except (ProviderError, AttributeError, TypeError) as exc:
                reason = exc.message if isinstance(exc, ProviderError) else str(exc)
                _log.warning("minds371.akash.trial_unknown", error=reason)
                if not (isinstance(exc, ProviderError) and exc.retryable):
                    self._trial = False  # asking again would get the same answer
                return False
        return self._trial

    async def _ask_trial(self) -> bool:
        me = self._data(await self._call("GET", "/v1/user/me"), "GET /v1/user/me")
        user = str(me.get("id") or me.get("userId") or "")
        doc = await self._call("GET", "/v1/wallets", params={"userId": user})
        wallets = self._data(doc, "GET /v1/wallets")
        return any(bool(w.get("isTrialing")) for w in wallets or [])

    async def _trial_slot(self) -> TrialCreateSlot | None:
        if not await self.is_trial_wallet():
            return None
        wallet = hashlib.sha256(self._api_key.get_secret_value().encode()).hexdigest()
        return TrialCreateSlot.for_wallet(self._base_url, wallet, self._trial_hold)

    def _release_trial_slot(self, dseq: int) -> None:
        if self._trial:
            wallet = hashlib.sha256(self._api_key.get_secret_value().encode()).hexdigest()
            TrialCreateSlot.for_wallet(self._base_url, wallet, self._trial_hold).release(dseq)

    async def current_height(self) -> int:
        """The chain's latest block height (``GET /v1/blocks?limit=1``, public)."""
        doc = await self._call("GET", "/v1/blocks", params={"limit": "1"}, auth=False)
        return int(guarded("block list", lambda d: d[0]["height"], doc))

    async def set_auto_top_up(self, dseq: int, *, enabled: bool) -> AutoTopUp:
        """Switch Console's automatic funding of a deployment on or off.

        ``PATCH /v2/deployment-settings/{dseq}`` creates the setting when there is none (an
        upsert). Reading it first is no option: ``GET`` creates a missing setting switched
        *on* for any managed wallet (``findOrCreateByUserIdAndDseq``), a spend nobody chose.
        """
        body = {"data": {"autoTopUpEnabled": enabled}}
        doc = await self._call("PATCH", f"/v2/deployment-settings/{dseq}", body=body)
        setting = guarded(
            "deployment setting", parse_auto_top_up, self._data(doc, "deployment-settings")
        )
        _log.info("minds371.akash.auto_top_up", dseq=dseq, enabled=setting.enabled)
        return setting

    # -- providers ----------------------------------------------------------------------------

    async def list_providers(self) -> list[Provider]:
        """Every provider Console knows (``GET /v1/providers``, no envelope)."""
        doc = await self._call("GET", "/v1/providers", auth=False)
        return guarded("provider list", lambda d: [parse_provider(x) for x in d], doc)

    async def get_provider(self, address: str) -> Provider:
        """One provider (``GET /v1/providers/{address}``, no envelope).

        Concurrent asks for the same provider share one request: every waiting deployment on
        that provider asks while its lease has no status yet, and for its gateway's address.
        A provider's record is the network's, not changed by anything this backend sends, and
        Console's ``isOnline`` is only as fresh as its indexer's last status call to the
        provider: every 15 minutes while it answers, every minute once it stopped
        (``console:apps/indexer/src/providers/providerStatusProvider.ts``,
        ``UptimeCheckIntervalSeconds``, ``getNextCheckDate``). An answer is therefore kept for
        ``provider_ttl`` seconds: a watcher pass over a thousand deployments on one provider
        asks once, not a thousand times, and learns nothing later than Console knows it.
        """
        kept = self._providers_read.get(address)
        if kept is not None and anyio.current_time() - kept[0] < self._provider_ttl:
            return kept[1]

        async def read() -> Provider:
            doc = await self._call("GET", f"/v1/providers/{address}", auth=False)
            provider = guarded("provider", parse_provider, doc)
            self._providers_read[address] = (anyio.current_time(), provider)
            return provider

        return await self._provider_reads.run(address, read)

    async def block_time(self) -> float | None:
        """The network's block time, when it was given to this backend."""
        return self._block_time


def _json_bytes(body: Any) -> bytes:
    """A request body as httpx encodes ``json=``: compact, UTF-8, no NaN."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def lease_timeout(leases: int) -> float:
    """Seconds ``POST /v1/leases`` may take for ``leases`` leases.

    Console's signer waits until the lease transaction is in a block, then sends the manifest
    to each lease's provider in turn, each send up to three attempts of 15 s, 6 s apart on
    "no lease for deployment" (``provider.service.ts``: ``MANIFEST_SEND_MAX_RETRIES``,
    ``MANIFEST_SEND_RETRY_DELAY``, ``timeout: 15_000``).
    """
    return _LEASE_TX_SECONDS + max(1, leases) * _MANIFEST_SEND_SECONDS


def reaches_network(client: httpx.AsyncClient | None) -> bool:
    """Whether requests through ``client`` leave the process (not an in-process ASGI/mock one)."""
    if client is None:
        return True
    transport = getattr(client, "_transport", None)
    return not isinstance(transport, httpx.ASGITransport | httpx.MockTransport)


def _created(data: Mapping[str, Any]) -> CreatedDeployment:
    tx = data.get("signTx") or {}
    return CreatedDeployment(
        dseq=int(str(data["dseq"])),
        manifest=str(data["manifest"]),
        tx_hash=str(tx.get("transactionHash") or ""),
    )
