"""BlockchainRegistryProvider: register deployments, resolve names to verified endpoints.

``register`` stores the metadata JSON in the content store (its CID), signs the record as the
name's next one and appends it to the ledger (with a local ledger, together with a newly signed
ledger head). ``retire`` appends a tombstone. ``resolve`` trusts nothing it reads: the ledger entry
must be intact and linked and filed under the name asked for, the record signed by a trusted signer,
follow the record before it (no replay, no fork), be no older than the signed head and the client's
memory say the name's latest is (no rollback), not be expired, and its metadata must hash to its
CID. ``endpoints`` and ``connect`` add health-ordered failover on top. Every failure is an error of
:class:`~minds371.errors.RegistryError`'s branch: a forged record is refused, never returned.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Self, cast

import anyio
import pydantic

from minds371.errors import (
    ConfigurationError,
    ContentMismatch,
    FieldIssue,
    LedgerError,
    RegistryError,
    ServiceUnavailable,
    SignatureError,
    ValidationError,
)
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_registry._audit import audit_ledger
from minds371_registry._group import GroupCommit, Waiting
from minds371_registry._inputs import check_name, deployment_facts, metadata_bytes
from minds371_registry.content import ContentStore
from minds371_registry.discovery import EndpointHealth, HealthChecker, first_healthy
from minds371_registry.head import HeadBuilder, LedgerHead, verify_head
from minds371_registry.keys import RecordSigner
from minds371_registry.ledger import HeadStore, Ledger, LedgerEntry
from minds371_registry.models import RegistryReceipt, ServiceRecord, VerifyReport
from minds371_registry.records import (
    EMPTY_HASH,
    DeploymentFacts,
    DeploymentRecord,
    RecordDomain,
    verify_record,
)
from minds371_registry.seen import SeenSequences, check_seen

__all__ = ["BlockchainRegistryProvider", "check_name"]

_log = get_logger("minds371.registry")
_APPEND_ATTEMPTS = 6


class BlockchainRegistryProvider(AsyncResource):
    """Signed deployment records on a ledger, metadata in a content store, and discovery.

    Args:
        ledger: Where records are appended (``LocalLedger``, ``EvmLedger``).
        content: Where metadata lives (``LocalContentStore``, ``KuboContentStore``).
        signer: The key that signs new records; None for a read-only registry.
        trusted_signers: Addresses whose records are believed. The signer's own address is
            always trusted.
        health: The endpoint prober (a default ``HealthChecker`` when omitted).
        clock: Unix seconds (injected by tests, for expiry).
        max_metadata_bytes: The largest metadata document ``register`` accepts (as JSON).
        seen: The memory of the newest record seen per name (rollback detection across runs);
            ``default()`` keeps it under the home, None keeps none.

    The provider enters and closes ``ledger``, ``content`` and ``health`` with itself.
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        content: ContentStore,
        signer: RecordSigner | None = None,
        trusted_signers: Iterable[str] = (),
        health: HealthChecker | None = None,
        clock: Callable[[], float] = time.time,
        max_metadata_bytes: int = 1024 * 1024,
        seen: SeenSequences | None = None,
    ) -> None:
        self.ledger = ledger
        self.seen = seen
        self.content = content
        self.signer = signer
        trusted = {address.lower() for address in trusted_signers}
        if signer is not None:
            trusted.add(signer.address.lower())
        self.trusted_signers = frozenset(trusted)
        self.health = health or HealthChecker()
        self.max_metadata_bytes = max_metadata_bytes
        self._clock = clock
        self._lock: anyio.Lock | None = None
        self._head_cache: tuple[str, LedgerHead] | None = None
        # The names of the last head signed here, by that head's signature (see _builder_for).
        self._builder: tuple[str, HeadBuilder] | None = None
        self._head_ledger: object = None  # the ledger, once it was checked to keep a head
        self._registrations: GroupCommit[_Registration, tuple[LedgerEntry, bool]] = GroupCommit(
            self._commit_registrations, key=_registration_name
        )

    @classmethod
    def default(
        cls,
        *,
        home: Path | None = None,
        environ: Mapping[str, str] | None = None,
        read_only: bool = False,
        health: HealthChecker | None = None,
    ) -> BlockchainRegistryProvider:
        """The embedded default, configured from the environment (see ``registry/README.md``).

        A SQLite ledger and a local content store under ``$MINDS371_HOME/registry``, the key
        from ``MINDS371_REGISTRY_KEY``, a keystore or a generated development key (with a
        warning), trusted signers from ``MINDS371_REGISTRY_TRUSTED``; an EVM ledger and a Kubo
        node when their variables are set.

        Args:
            home: The state directory (default ``minds371.config.home()``).
            environ: The environment (default ``os.environ``).
            read_only: Do not generate a development key (discovery and verification need none).
            health: The endpoint prober (default: a ``HealthChecker`` with the environment's
                probe routes, e.g. ``MINDS371_SANDBOX_URL``, and ``MINDS371_PROBE_PRIVATE``).

        Raises:
            ConfigurationError: if the configuration cannot be used.
        """
        from minds371_registry._settings import build_default, probe_private, probe_routes

        parts = build_default(home=home, environ=environ, read_only=read_only)
        if health is None:
            health = HealthChecker(
                routes=probe_routes(environ), allow_private=probe_private(environ)
            )
        return cls(**parts, health=health)

    async def __aenter__(self) -> Self:
        try:
            await self.ledger.__aenter__()
            await self.content.__aenter__()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Close the ledger, the content store and the health checker."""
        try:
            await self.ledger.aclose()
        finally:
            try:
                await self.content.aclose()
            finally:
                await self.health.aclose()

    # -- writing ---------------------------------------------------------------------------------

    async def check_writable(self) -> None:
        """Check that :meth:`register` can work: a signing key, and a content store that answers.

        Entering the provider already checks the ledger (an EVM node on the right chain, with
        the contract deployed). Cheap; meant for before anything is spent on a deployment.

        Raises:
            ConfigurationError: the registry has no signing key.
            RegistryError: the content store cannot be reached.
        """
        if self.signer is None:
            raise ConfigurationError("this registry is read-only: it has no signing key")
        await self.content.check()

    async def register(
        self,
        facts: DeploymentFacts | Mapping[str, Any],
        metadata: Mapping[str, Any] | pydantic.BaseModel | None = None,
    ) -> RegistryReceipt:
        """Record a deployment as the next record of its name.

        Args:
            facts: What to record (a ``DeploymentFacts`` or its fields as a mapping).
            metadata: A JSON object (a mapping, or a pydantic model dumped in JSON mode) of
                details: request digest, SDL, leases, price, ...; stored in the content store
                as canonical JSON (sorted keys), and the record carries its CID.

        Returns:
            The receipt. Registrations that wait for another one being written are appended
            together, under one new head; each gets its own receipt or error. If the name's
            latest record already states exactly these facts and metadata (and no TTL asks for
            a fresh expiry), that record's receipt is returned with ``created=False`` and
            nothing is appended: retrying a registration after a crash does not grow the
            history.

        Raises:
            ValidationError: if ``facts`` or ``metadata`` is invalid (nothing is written).
            ConfigurationError: if the registry has no signing key.
            SignatureError: if the name's latest record does not verify (nothing is signed on
                top of a forged or broken chain).
            RegistryError: if the content store or the ledger fails (``LedgerError`` when the
                ledger refuses the record; losing a race with another writer is retried).
        """
        checked = deployment_facts(facts)
        blob = metadata_bytes(metadata)
        if len(blob) > self.max_metadata_bytes:
            raise ValidationError(
                [
                    FieldIssue(
                        "/metadata",
                        f"is {len(blob)} bytes as JSON, more than the {self.max_metadata_bytes} "
                        "allowed; store large artefacts separately and reference them",
                    )
                ],
                subject="metadata",
            )
        if checked.expires_at is not None and checked.expires_at <= self._clock():
            raise ValidationError(
                [FieldIssue("/expires_at", "is in the past: the record would never be valid")],
                subject="deployment facts",
            )
        if self.signer is None:
            raise ConfigurationError("this registry is read-only: it has no signing key")
        cid = await self.content.put(blob)
        await self.content.pin(cid)
        # One writer per provider (sequences must not interleave); the registrations that queue
        # behind it are appended together, under one new head (see _commit_registrations).
        entry, created = await self._registrations.submit(
            _Registration(checked, cid), self._writer_lock()
        )
        record = entry.record
        _log.info(
            "minds371.registry.registered" if created else "minds371.registry.unchanged",
            name=record.name,
            sequence=record.sequence,
            cid=cid,
            signer=record.signer,
            ledger=self.ledger.kind,
        )
        return RegistryReceipt.of(entry, self.ledger.kind, created=created)

    def _writer_lock(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def _commit_registrations(
        self, group: list[Waiting[_Registration, tuple[LedgerEntry, bool]]]
    ) -> None:
        """Append a group of registrations (one per name), holding the writer's lock.

        On a ledger with a signed head, two or more go in one transaction with one new head; if
        that append fails (a record raced another process, the head refused one), each is
        appended again alone, so that one record's failure is its own. Each caller then finds
        its entry, or its own error, and the names seen are remembered with one write.
        """
        signer = self.signer
        assert signer is not None  # register checked it
        if len(group) > 1 and not self.ledger.anchored:
            await self._append_together(group, signer)
        for waiting in group:
            if not waiting.settled:
                try:
                    waiting.resolve(await self._append_next(*waiting.item, signer))
                except Exception as exc:  # the caller's error, raised to it alone
                    waiting.fail(exc)
        if self.seen is None:
            return
        done = [(w, w.outcome()[0]) for w in group if w.settled and w.error is None]
        try:
            await self.seen.remember_all_durably(
                self.ledger.domain,
                [(e.record.name, e.record.sequence, e.record_hash) for _, e in done],
            )
        except Exception as exc:  # as before the group: the caller hears the note failed
            for waiting, _ in done:
                waiting.fail(exc)

    async def _append_together(
        self, group: list[Waiting[_Registration, tuple[LedgerEntry, bool]]], signer: RecordSigner
    ) -> None:
        """Sign each registration on top of its name's latest record; append all at once."""
        planned: list[tuple[Waiting[_Registration, tuple[LedgerEntry, bool]], DeploymentRecord]]
        planned = []
        for waiting in group:
            facts, cid = waiting.item
            try:
                head = await self._verified_head(facts.name)
            except Exception as exc:  # as alone: nothing is signed on a chain that fails
                waiting.fail(exc)
                continue
            if head is not None and _says_the_same(head.record, facts, cid, signer):
                waiting.resolve((head, False))
                continue
            planned.append((waiting, self._sign_next(facts, cid, signer, head)))
        if not planned:
            return
        try:
            entries = await self._append_with_head([record for _, record in planned], signer)
        except Exception as exc:  # each is retried alone, and fails (or not) on its own
            _log.info(
                "minds371.registry.group_split",
                count=len(planned),
                error=type(exc).__name__,
                reason=str(exc)[:200],
            )
            return
        for (waiting, _), entry in zip(planned, entries, strict=True):
            waiting.resolve((entry, True))

    def _sign_next(
        self,
        facts: DeploymentFacts,
        cid: str,
        signer: RecordSigner,
        head: LedgerEntry | None,
    ) -> DeploymentRecord:
        return signer.sign_record(
            facts,
            sequence=head.record.sequence + 1 if head else 1,
            prev_hash=head.record_hash if head else EMPTY_HASH,
            metadata_cid=cid,
            domain=self.ledger.domain,
            issued_at=int(self._clock()),
        )

    async def _append_next(
        self, facts: DeploymentFacts, cid: str, signer: RecordSigner
    ) -> tuple[LedgerEntry, bool]:
        for attempt in range(_APPEND_ATTEMPTS):
            # Never extend a chain whose head does not verify: refuse, and let `registry verify`
            # name the bad entry, rather than sign on top of a forged record.
            head = await self._verified_head(facts.name)
            if head is not None and _says_the_same(head.record, facts, cid, signer):
                return head, False
            record = self._sign_next(facts, cid, signer, head)
            try:
                return await self._append(record, signer), True
            except LedgerError:
                # Another process may have appended the same sequence first: if the head moved,
                # sign again on top of it; if not, the refusal is real.
                moved = await self.ledger.latest(facts.name)
                same = (moved.record_hash if moved else None) == (
                    head.record_hash if head else None
                )
                if same or attempt == _APPEND_ATTEMPTS - 1:
                    raise
                _log.info("minds371.registry.append_raced", name=facts.name, attempt=attempt + 1)
                # A random pause breaks the lockstep of writers that keep colliding.
                await anyio.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        raise AssertionError("unreachable")  # pragma: no cover

    async def append_records(self, records: Sequence[DeploymentRecord]) -> list[LedgerEntry]:
        """Append records signed elsewhere (an import, a benchmark), with a new signed head.

        Each must be the next of its name; the ledger refuses the batch otherwise (all or none on
        a local ledger).

        Raises:
            ConfigurationError: the registry has no signing key (it signs the head).
            LedgerError: a record does not follow its name's latest record.
        """
        if self.signer is None:
            raise ConfigurationError("this registry is read-only: it has no signing key")
        if self.ledger.anchored:
            return [await self.ledger.append(record) for record in records]
        return await self._append_with_head(list(records), self.signer)

    async def _append(self, record: DeploymentRecord, signer: RecordSigner) -> LedgerEntry:
        """Append ``record``; on a ledger that is not anchored, sign its new head with it."""
        if self.ledger.anchored:
            return await self.ledger.append(record)
        return (await self._append_with_head([record], signer))[0]

    async def _append_with_head(
        self, records: list[DeploymentRecord], signer: RecordSigner
    ) -> list[LedgerEntry]:
        store = self._head_store()
        domain = self.ledger.domain

        def next_head(
            stored: str | None, entries: int, appended: list[LedgerEntry]
        ) -> tuple[str, str]:
            # Runs inside the append's transaction: the head moves with the records, or neither.
            builder = self._builder_for(stored)
            for entry in appended:
                known = builder.get(entry.record.name)
                if known is not None and known.sequence >= entry.record.sequence:
                    raise LedgerError(
                        f"the signed head says {entry.record.name!r} is at #{known.sequence}, so "
                        f"#{entry.record.sequence} cannot follow: the ledger was rolled back",
                        details={"name": entry.record.name, "sequence": entry.record.sequence},
                    )
                builder.set(entry.record.name, entry.record.sequence, entry.record_hash)
            head, text = builder.sign(
                signer,
                domain,
                entries=entries,
                last_entry_hash=appended[-1].entry_hash,
                issued_at=int(self._clock()),
            )
            # Read back next, a stored head that is this text to the byte is the one signed here,
            # and so is a stored id that is its signature to this registry (see signed_head): no
            # need to parse it and recover its signer again (a head whose append rolled back is
            # never read back; `verify` reads the stored text all the same).
            _remember_head(domain, text, head)
            self._head_cache = (text, head)
            self._builder = (head.signature, builder)
            return text, head.signature

        # The append runs to its end in its thread even if this task is cancelled meanwhile:
        # shielded, its entries are still handed back (a cancelled group commit hands its
        # callers their entries, not a second append of the same registrations).
        with anyio.CancelScope(shield=True):
            appended = await store.append_many(records, head=next_head)
        return appended

    def _builder_for(self, stored: str | None) -> HeadBuilder:
        """The names of the stored head, ready for the next head (the caller owns the builder).

        The builder of the last head signed here is kept with that head's signature and taken
        (an append that fails half-way through must not leave it half-changed); any other head
        is parsed and checked, and a builder made from its names.
        """
        if stored is None:
            return HeadBuilder()
        current = self._parse_head(stored)
        kept, self._builder = self._builder, None
        if kept is not None and kept[0] == current.signature:
            return kept[1]
        return HeadBuilder(current.names)

    def _head_store(self) -> HeadStore:
        if self._head_ledger is self.ledger:
            return cast(HeadStore, self.ledger)
        if not isinstance(self.ledger, HeadStore):
            raise ConfigurationError(
                f"the {self.ledger.kind} ledger is not anchored on a chain and keeps no signed "
                "head: rollbacks could not be detected"
            )
        # Checked once: a protocol's isinstance walks its members, and every read asks.
        self._head_ledger = self.ledger
        return self.ledger

    def _parse_head(self, stored: str) -> LedgerHead:
        """The stored head, parsed and its signature checked (cached by its text)."""
        if self._head_cache is not None and self._head_cache[0] == stored:
            return self._head_cache[1]
        known = _checked_heads.get((self.ledger.domain.separator(), stored))
        if known is not None and known.signer.lower() in self.trusted_signers:
            self._head_cache = (stored, known)
            return known
        try:
            head = LedgerHead.model_validate_json(stored)
        except pydantic.ValidationError as exc:
            raise LedgerError(
                f"the ledger's signed head is malformed: {exc.errors()[0]['msg']}"
            ) from None
        verify_head(head, self.ledger.domain, self.trusted_signers)
        self._head_cache = (stored, head)
        _remember_head(self.ledger.domain, stored, head)
        return head

    async def signed_head(self) -> LedgerHead | None:
        """The ledger's signed head, checked (None on an anchored ledger or an empty one).

        Raises:
            LedgerError: the ledger holds entries but no head, fewer entries than its head
                says, or a malformed head.
            SignatureError: the head's signature is not a trusted signer's.
        """
        return await self._signed_head(reread=False)

    async def _signed_head(self, *, reread: bool) -> LedgerHead | None:
        """:meth:`signed_head`, or with ``reread`` the stored head's text checked in any case.

        Without ``reread``, a stored id that is the one of the head this registry last signed or
        checked stands for that head, and its text is not read again.
        """
        if self.ledger.anchored:
            return None
        store = self._head_store()
        head_id, last = await store.head_state()
        if head_id is None and not last:
            return None
        if (
            not reread
            and head_id is not None
            and self._head_cache
            and self._head_cache[1].signature == head_id
        ):
            head = self._head_cache[1]  # verified or signed here; a head's id is its signature
        else:
            # Id, head and length again, together: a writer may have moved them since.
            head_id, stored, last = await store.read_head()
            if stored is None or head_id is None:
                raise LedgerError(
                    f"the ledger holds {last} entries but no signed head: the head was removed, "
                    "or the ledger was written without this registry",
                    details={"position": last},
                )
            head = self._parse_head(stored)
            if head.signature != head_id:
                raise LedgerError("the ledger's signed head is not the one its id names")
        if last < head.entries:
            raise LedgerError(
                f"the ledger holds {last} entries but its signed head says {head.entries}: "
                "entries were removed",
                details={"position": last},
            )
        return head

    def _check_not_rolled_back(
        self,
        name: str,
        latest: LedgerEntry | None,
        head: LedgerHead | None,
        seen: tuple[int, str] | None,
    ) -> None:
        """Refuse a latest record older than the signed head or this client's memory says.

        ``head`` and ``seen`` must have been read before ``latest`` was.
        """
        have = latest.record.sequence if latest is not None else 0
        have_hash = latest.record_hash if latest is not None else ""
        expected = head.names.get(name) if head is not None else None
        if expected is not None:
            details = {"name": name, "sequence": have, "head_sequence": expected.sequence}
            if have < expected.sequence:
                raise LedgerError(
                    f"the ledger's latest record of {name!r} is #{have}, but its signed head says "
                    f"#{expected.sequence}: newer records were removed (a rollback)",
                    details=details,
                )
            if have == expected.sequence and have_hash != expected.record_hash:
                raise LedgerError(
                    f"record {name}#{have} is not the one the signed head names: the ledger's "
                    "history was rewritten",
                    details=details,
                )
        check_seen(name, have, have_hash, seen)

    async def _remember(self, entry: LedgerEntry) -> None:
        if self.seen is not None:
            record = entry.record
            await self.seen.remember_durably(
                self.ledger.domain, record.name, record.sequence, entry.record_hash
            )

    # -- reading ---------------------------------------------------------------------------------

    def _require_trust(self) -> None:
        if not self.trusted_signers:
            raise ConfigurationError(
                "no trusted signers: set MINDS371_REGISTRY_TRUSTED (comma-separated addresses) "
                "or a signing key"
            )

    async def resolve(self, name: str) -> ServiceRecord:
        """The latest record of ``name``, verified, with its verified metadata.

        A retired name resolves to its tombstone (``ServiceRecord.retired``, no endpoints).

        Raises:
            ValidationError: if ``name`` is not a service name.
            RegistryError: if ``name`` has no record, or its latest record has expired.
            SignatureError: if the record is not signed by a trusted signer, or does not follow
                the record before it (a replay or a fork), or the signed head is not trusted.
            LedgerError: if the ledger entries were tampered with: edited, filed under another
                name, or newer records removed (older than the signed head or than this client
                saw before).
            ContentMismatch: if the metadata's bytes do not hash to the record's CID.
        """
        check_name(name)
        try:
            latest = await self._verified_head(name)
        except (SignatureError, LedgerError) as exc:
            self._rejected(name, exc)
            raise
        if latest is None:
            raise RegistryError(f"no record is registered for {name!r}", details={"name": name})
        record = latest.record
        if record.is_expired(self._clock()):
            raise RegistryError(
                f"the latest record of {name!r} (#{record.sequence}) expired at "
                f"{record.expires_at}; the service must register again",
                details={
                    "name": name,
                    "sequence": record.sequence,
                    "expires_at": record.expires_at,
                },
            )
        try:
            metadata = await self._metadata(record)
        except ContentMismatch as exc:
            self._rejected(name, exc)
            raise
        await self._remember(latest)
        return ServiceRecord(
            record=record, record_id=latest.record_hash, metadata=metadata, location=latest.location
        )

    def _rejected(self, name: str, exc: RegistryError) -> None:
        # Tampering or a forgery: operators must hear of it, not only the caller.
        _log.warning(
            "minds371.registry.rejected",
            name=name,
            error=type(exc).__name__,
            reason=exc.message,
            ledger=self.ledger.kind,
        )

    async def _verified_head(self, name: str) -> LedgerEntry | None:
        """The latest entry of ``name`` after checking its signature, signer and chain link."""
        self._require_trust()
        # The head is read before the records: a record appended in between is newer than the
        # head, never older, so a concurrent writer cannot look like a rollback.
        head = await self.signed_head()
        seen = self.seen.lookup(self.ledger.domain, name) if self.seen is not None else None
        tail = await self.ledger.history(name, limit=2)
        for entry in tail:
            _check_filed_under(name, entry)
        if tail:
            # The previous record's digest is re-computed here, not taken from the ledger's entry.
            previous = tail[-2].record if len(tail) == 2 else None
            verify_record(
                tail[-1].record, self.ledger.domain, self.trusted_signers, previous=previous
            )
        latest = tail[-1] if tail else None
        self._check_not_rolled_back(name, latest, head, seen)
        return latest

    async def _metadata(self, record: DeploymentRecord) -> dict[str, Any]:
        blob = await self.content.get(record.metadata_cid)
        try:
            value = json.loads(blob)
        except ValueError as exc:
            raise RegistryError(
                f"the metadata of {record.name}#{record.sequence} is not JSON",
                details={"cid": record.metadata_cid},
            ) from exc
        if not isinstance(value, dict):
            raise RegistryError(f"the metadata of {record.name}#{record.sequence} is not an object")
        return value

    async def history(self, name: str) -> list[LedgerEntry]:
        """Every record of ``name``, oldest first, each verified and linked to the one before.

        Raises:
            ValidationError: if ``name`` is not a service name.
            SignatureError: at the first record that is untrusted, replayed or out of order.
            LedgerError: if the ledger entries were tampered with.
        """
        check_name(name)
        self._require_trust()
        head = await self.signed_head()  # before the records (see _verified_head)
        seen = self.seen.lookup(self.ledger.domain, name) if self.seen is not None else None
        entries = await self.ledger.history(name)
        previous: DeploymentRecord | None = None
        for entry in entries:
            _check_filed_under(name, entry)
            verify_record(entry.record, self.ledger.domain, self.trusted_signers, previous=previous)
            previous = entry.record
        self._check_not_rolled_back(name, entries[-1] if entries else None, head, seen)
        if entries:
            await self._remember(entries[-1])
        return entries

    async def endpoints(self, name: str) -> list[EndpointHealth]:
        """The verified endpoints of ``name``, probed concurrently, healthy ones first.

        Raises:
            The errors of :meth:`resolve`.
        """
        resolved = await self.resolve(name)
        return await self.health.check_all(resolved.endpoints)

    async def connect(self, name: str) -> EndpointHealth:
        """The first healthy verified endpoint of ``name``.

        Raises:
            ServiceUnavailable: if no endpoint answered its health check (naming each one tried),
                or the service was retired (not retryable).
            The errors of :meth:`resolve`.
        """
        resolved = await self.resolve(name)
        if resolved.retired:
            raise ServiceUnavailable(
                f"{name!r} was retired (record #{resolved.sequence}): its deployment was closed",
                details={"name": name, "sequence": resolved.sequence, "retired": True},
            )
        return first_healthy(name, await self.health.check_all(resolved.endpoints))

    # -- retiring --------------------------------------------------------------------------------

    async def retire(
        self, name: str, *, dseq: int | None = None, reason: str = "closed"
    ) -> RegistryReceipt | None:
        """Append a tombstone: ``name`` serves nothing until it is registered again.

        The tombstone repeats the latest record's owner, dseq, network and manifest hash, lists no
        providers and no endpoints, and is signed and chained like any record; its metadata says
        why (``{"retired": reason, "dseq": ...}``).

        Args:
            name: The service name.
            dseq: Retire only if the name's latest record is of this deployment (a name that
                moved to another deployment keeps serving it).
            reason: Why, for the metadata (``closed``, ``ttl``, ``failure``, ...).

        Returns:
            The tombstone's receipt (``created=False`` when the name was already retired), or
            None when there is nothing to retire (no record, or one of another deployment).

        Raises:
            ConfigurationError: the registry has no signing key.
            The errors of :meth:`resolve` when the name's latest record does not verify.
        """
        check_name(name)
        if self.signer is None:
            raise ConfigurationError("this registry is read-only: it has no signing key")
        signer = self.signer
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            current = await self._verified_head(name)
            if current is None or (dseq is not None and current.record.dseq != dseq):
                return None
            if current.record.retired:
                return RegistryReceipt.of(current, self.ledger.kind, created=False)
            latest = current.record
            blob = metadata_bytes({"retired": reason, "dseq": latest.dseq})
            cid = await self.content.put(blob)
            await self.content.pin(cid)
            facts = DeploymentFacts(
                name=name,
                owner=latest.owner,
                dseq=max(latest.dseq, 1),
                network=latest.network,
                manifest_hash=latest.manifest_hash,
            )
            record = signer.sign_record(
                facts,
                sequence=latest.sequence + 1,
                prev_hash=current.record_hash,
                metadata_cid=cid,
                domain=self.ledger.domain,
                issued_at=int(self._clock()),
                retired=True,
            )
            entry = await self._append(record, signer)
        await self._remember(entry)
        _log.info(
            "minds371.registry.retired",
            name=name,
            sequence=record.sequence,
            dseq=record.dseq,
            reason=reason,
        )
        return RegistryReceipt.of(entry, self.ledger.kind, created=True)

    async def names_of_deployment(self, dseq: int, network: str) -> list[str]:
        """The names whose latest record is of deployment ``dseq`` on ``network`` (verified).

        Walks the whole ledger: meant for closing a deployment known only by its dseq.
        """
        latest: dict[str, DeploymentRecord] = {}
        async for entry in self.ledger.entries():
            latest[entry.record.name] = entry.record
        out = []
        for name, record in sorted(latest.items()):
            if record.dseq == dseq and record.network == network and not record.retired:
                current = await self._verified_head(name)
                if current is not None and current.record.dseq == dseq:
                    out.append(name)
        return out

    async def verify(self, *, check_content: bool = True) -> VerifyReport:
        """Walk the whole ledger and check every entry; stop at the first bad one.

        Checks the ledger's integrity, every signature and signer, each name's chain (sequence
        and previous hash), the signed head (a local ledger's) and, unless ``check_content`` is
        False, that every metadata blob is present and hashes to its CID.
        """
        self._require_trust()
        return await audit_ledger(
            self.ledger,
            self.content,
            self.trusted_signers,
            check_content=check_content,
            # The stored head itself, even if its id is one signed here: its text may be edited.
            signed_head=partial(self._signed_head, reread=True),
        )


# Heads whose signature was checked (or that were signed here), by ledger domain and exact text.
# A deployment opens a registry for each step, and a head names every name of the ledger: parsing
# and recovering it again for every registration would cost as much as the ledger is large. Trust
# is still each registry's own: a cached head counts only if its signer is trusted there.
_checked_heads: dict[tuple[bytes, str], LedgerHead] = {}
_CHECKED_HEADS_KEPT = 8


def _remember_head(domain: RecordDomain, text: str, head: LedgerHead) -> None:
    key = (domain.separator(), text)
    _checked_heads.pop(key, None)
    _checked_heads[key] = head
    while len(_checked_heads) > _CHECKED_HEADS_KEPT:
        with contextlib.suppress(StopIteration, KeyError, RuntimeError):
            del _checked_heads[next(iter(_checked_heads))]


class _Registration(NamedTuple):
    """A registration waiting for the writer's lock: its facts and its metadata's CID."""

    facts: DeploymentFacts
    cid: str


def _registration_name(registration: _Registration) -> str:
    return registration.facts.name


def _check_filed_under(name: str, entry: LedgerEntry) -> None:
    """Refuse an entry the ledger returned for ``name`` that holds another name's record."""
    if entry.record.name != name:
        raise LedgerError(
            f"the ledger returned the record {entry.record.name}#{entry.record.sequence} for "
            f"{name!r}: its entry at {entry.location} was filed under another name",
            details={"name": name, "position": entry.position},
        )


def _says_the_same(
    record: DeploymentRecord, facts: DeploymentFacts, cid: str, signer: RecordSigner
) -> bool:
    """Whether ``record`` already states ``facts`` with metadata ``cid`` (a repeated call).

    A TTL means "valid for this long from now", so facts with one always make a new record.
    """
    return (
        facts.ttl_seconds is None
        and not record.retired
        and record.expires_at == (facts.expires_at or 0)
        and record.signer == signer.address
        and record.metadata_cid == cid
        and (record.owner, record.dseq, record.network, record.manifest_hash)
        == (facts.owner, facts.dseq, facts.network, facts.manifest_hash)
        and (record.providers, record.endpoints) == (facts.providers, facts.endpoints)
    )
