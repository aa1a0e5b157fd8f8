"""A ledger on any EVM chain: the ``Minds371Registry`` contract, spoken to over JSON-RPC.

Why a thin httpx JSON-RPC client with eth-abi and eth-account rather than web3.py: the registry
needs a dozen RPC methods (``eth_chainId``, ``eth_call``, ``eth_estimateGas``, ``eth_getLogs``,
``eth_getBlockByNumber``, ``eth_maxPriorityFeePerGas``, ``eth_getTransactionCount``,
``eth_sendRawTransaction``, ``eth_getTransactionReceipt``, ...), and speaking them over httpx keeps
the project's one HTTP stack, its injected ``http_client`` seam, anyio-native timeouts and error
mapping at one boundary, without web3.py's large dependency tree and its own provider and middleware
layers; eth-abi already comes with eth-account.

Each ``append`` stores the signed record's JSON in the content store (its CID), then calls
``publish(name, sequence, prevHash, recordHash, cid)``. The contract lets only a name's first
publisher publish it again, only as the next sequence and only on top of the latest record's hash,
so replays and forks revert. Transactions are EIP-1559, with the nonce tracked locally (re-read once
when the node says it is stale), gas estimated with headroom (the estimate is also where a revert is
caught, with its decoded reason), and the receipt awaited. Reverts become
:class:`~minds371.errors.LedgerError` naming the reason, e.g. ``NotOwner(name='web', ...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Self

import httpx
import pydantic
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

from minds371.errors import ConfigurationError, LedgerError, RegistryError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_registry.content import ContentStore
from minds371_registry.keys import RecordSigner
from minds371_registry.ledger._abi import registry_contract
from minds371_registry.ledger._jsonrpc import JsonRpcClient, RpcFault
from minds371_registry.ledger._protocol import LedgerEntry
from minds371_registry.ledger._transactor import Transactor, revert_error
from minds371_registry.records import DeploymentRecord, RecordDomain, record_digest

__all__ = ["EvmLedger", "deploy_registry_contract"]

_log = get_logger("minds371.registry.evm")


async def deploy_registry_contract(
    rpc_url: str,
    signer: RecordSigner,
    *,
    http_client: httpx.AsyncClient | None = None,
    receipt_timeout: float = 60.0,
) -> tuple[str, int]:
    """Deploy a new ``Minds371Registry``; return its address and the block it was created in.

    Raises:
        LedgerError: if the node refuses or fails the deployment.
    """
    rpc = JsonRpcClient(rpc_url, http_client=http_client)
    try:
        chain_id = int(await rpc.call("eth_chainId"), 16)
        sender = Transactor(rpc, signer, chain_id, receipt_timeout)
        receipt = await sender.send(None, "0x" + registry_contract().bytecode, "deployment")
    except RpcFault as fault:
        raise revert_error(fault, "deployment") from None
    finally:
        await rpc.aclose()
    address = to_checksum_address(receipt["contractAddress"])
    _log.info("minds371.registry.evm.deployed", contract=address, chain_id=chain_id)
    return address, int(receipt["blockNumber"], 16)


class EvmLedger(AsyncResource):
    """The registry contract at ``contract_address`` as a :class:`Ledger`.

    Args:
        rpc_url: The node's JSON-RPC endpoint.
        contract_address: The deployed ``Minds371Registry``.
        content: Where record bodies are stored (by CID) and fetched from.
        signer: The account that sends ``publish`` transactions (None: read-only).
        chain_id: The chain expected (checked against the node on entry when given).
        from_block: The block the contract was deployed in (logs are read from there).
        http_client: An httpx client to use (not closed here).
        receipt_timeout: Seconds to wait for a transaction to be mined and confirmed.
        confirmations: Blocks to wait for on top of a publish's block before it counts (0 on a
            local node; a few on a public chain, where blocks can be reorganised).
        log_block_range: Blocks per ``eth_getLogs`` request.
    """

    def __init__(
        self,
        rpc_url: str,
        contract_address: str,
        *,
        content: ContentStore,
        signer: RecordSigner | None = None,
        chain_id: int | None = None,
        from_block: int = 0,
        http_client: httpx.AsyncClient | None = None,
        receipt_timeout: float = 60.0,
        confirmations: int = 0,
        log_block_range: int = 10_000,
    ) -> None:
        self.contract_address = to_checksum_address(contract_address)
        self._rpc = JsonRpcClient(rpc_url, http_client=http_client)
        self._content = content
        self._signer = signer
        self._chain_id = chain_id
        self._from_block = from_block
        self._receipt_timeout = receipt_timeout
        self._confirmations = confirmations
        self._range = log_block_range
        self._sender: Transactor | None = None
        self._contract = registry_contract()

    @property
    def kind(self) -> str:
        """``evm``."""
        return "evm"

    @property
    def anchored(self) -> bool:
        """True: the contract holds each name's latest sequence and hash.

        ``history`` checks the newest event against it, so no signed head is needed.
        """
        return True

    @property
    def domain(self) -> RecordDomain:
        """The EIP-712 domain: this chain and this contract.

        Raises:
            ConfigurationError: if the chain id is not known yet (enter the ledger first).
        """
        if self._chain_id is None:
            raise ConfigurationError("the EVM ledger's chain id is unknown: use `async with`")
        return RecordDomain(chain_id=self._chain_id, verifying_contract=self.contract_address)

    async def __aenter__(self) -> Self:
        try:
            chain_id = int(await self._rpc.call("eth_chainId"), 16)
            code = await self._rpc.call("eth_getCode", self.contract_address, "latest")
        except RpcFault as fault:
            raise LedgerError(f"the EVM node refused a query: {fault.message}") from None
        if self._chain_id is not None and chain_id != self._chain_id:
            raise ConfigurationError(f"the EVM node is on chain {chain_id}, not {self._chain_id}")
        if code in ("0x", "0x0", None):
            raise ConfigurationError(f"no contract is deployed at {self.contract_address}")
        self._chain_id = chain_id
        return self

    async def aclose(self) -> None:
        """Close the HTTP client if this ledger created it."""
        await self._rpc.aclose()

    async def append(self, record: DeploymentRecord) -> LedgerEntry:
        """Publish the record's hash and CID on chain (see :class:`Ledger`)."""
        if self._signer is None:
            raise ConfigurationError("this EVM ledger is read-only: give it a signer to publish")
        if self._sender is None:
            self._sender = Transactor(
                self._rpc,
                self._signer,
                self.domain.chain_id,
                self._receipt_timeout,
                self._confirmations,
            )
        digest = record_digest(record, self.domain)
        cid = await self._content.put(record.canonical_json().encode())
        await self._content.pin(cid)
        data = self._contract.encode_call(
            "publish",
            record.name,
            record.sequence,
            bytes.fromhex(record.prev_hash[2:]),
            digest,
            cid,
        )
        what = f"publish of {record.name}#{record.sequence}"
        receipt = await self._sender.send(self.contract_address, data, what)
        _log.info(
            "minds371.registry.evm.published",
            name=record.name,
            sequence=record.sequence,
            tx=receipt["transactionHash"],
        )
        return self._entry(record, "0x" + digest.hex(), receipt["transactionHash"], receipt)

    def _entry(
        self, record: DeploymentRecord, digest: str, tx_hash: str, where: dict[str, Any]
    ) -> LedgerEntry:
        return LedgerEntry(
            position=int(where["blockNumber"], 16),
            record=record,
            record_hash=digest,
            entry_hash=tx_hash,
            location=f"evm:{self.domain.chain_id}:{self.contract_address}:{tx_hash}",
        )

    async def latest(self, name: str) -> LedgerEntry | None:
        """The latest record of ``name`` on chain, or None."""
        found = await self.history(name, limit=1)
        return found[-1] if found else None

    async def history(self, name: str, *, limit: int | None = None) -> list[LedgerEntry]:
        """The records of ``name`` from the contract's events, oldest first.

        With ``limit``, the latest records are found from the contract's head, one single-block
        log query each (the events link each publish to the block of the one before); without,
        the logs are scanned from ``from_block``.
        """
        name_topic = "0x" + keccak(name.encode()).hex()
        if limit is None:
            return [await self._from_log(log) async for log in self._logs(name_topic)]
        logs: list[dict[str, Any]] = []
        _, sequence, record_hash, _, block = await self._head(name)
        while sequence > 0 and len(logs) < limit:
            log = await self._published_at(block, name_topic, name, sequence)
            event = self._contract.decode_event("Published", log)
            if not logs and event["recordHash"] != record_hash:
                raise LedgerError(
                    f"the contract's head of {name!r} does not match its latest event",
                    details={"name": name, "sequence": sequence},
                )
            logs.append(log)
            block, sequence = event["previousBlock"], sequence - 1
        return [await self._from_log(log) for log in reversed(logs)]

    async def _head(self, name: str) -> tuple[Any, ...]:
        call = {"to": self.contract_address, "data": self._contract.encode_call("head", name)}
        try:
            result = await self._rpc.call("eth_call", call, "latest")
        except RpcFault as fault:
            raise LedgerError(f"the EVM node refused a head query: {fault.message}") from None
        return self._contract.decode_output("head", result)

    async def _published_at(
        self, block: int, name_topic: str, name: str, sequence: int
    ) -> dict[str, Any]:
        query = {
            "address": self.contract_address,
            "topics": [self._contract.event_topic("Published"), name_topic],
            "fromBlock": hex(block),
            "toBlock": hex(block),
        }
        try:
            logs = await self._rpc.call("eth_getLogs", query)
        except RpcFault as fault:
            raise LedgerError(f"the EVM node refused a log query: {fault.message}") from None
        for log in logs:
            if not log.get("removed") and (
                self._contract.decode_event("Published", log)["sequence"] == sequence
            ):
                return dict(log)
        raise LedgerError(
            f"block {block} has no Published event of {name}#{sequence} (a reorganised chain?)",
            retryable=True,
            details={"name": name, "sequence": sequence, "block": block},
        )

    async def entries(self) -> AsyncIterator[LedgerEntry]:
        """Every published record, in chain order."""
        async for log in self._logs(None):
            yield await self._from_log(log)

    async def _logs(self, name_topic: str | None) -> AsyncIterator[dict[str, Any]]:
        topics: list[str | None] = [self._contract.event_topic("Published")]
        if name_topic is not None:
            topics.append(name_topic)
        try:
            head = int(await self._rpc.call("eth_blockNumber"), 16)
            start = self._from_block
            while start <= head:
                end = min(start + self._range - 1, head)
                query = {
                    "address": self.contract_address,
                    "topics": topics,
                    "fromBlock": hex(start),
                    "toBlock": hex(end),
                }
                for log in await self._rpc.call("eth_getLogs", query):
                    if not log.get("removed"):
                        yield log
                start = end + 1
        except RpcFault as fault:
            raise LedgerError(f"the EVM node refused a log query: {fault.message}") from None

    async def _from_log(self, log: dict[str, Any]) -> LedgerEntry:
        event = self._contract.decode_event("Published", log)
        tx_hash = str(log["transactionHash"])
        details = {"tx": tx_hash, "name": event["name"], "sequence": event["sequence"]}
        try:
            body = await self._content.get(event["cid"])
            record = DeploymentRecord.model_validate_json(body)
        except (RegistryError, pydantic.ValidationError) as exc:
            raise LedgerError(
                f"the record published in {tx_hash} cannot be read from its CID {event['cid']}: "
                f"{exc}",
                details=details,
            ) from exc
        digest = record_digest(record, self.domain)
        if (
            digest != event["recordHash"]
            or record.name != event["name"]
            or record.sequence != event["sequence"]
        ):
            raise LedgerError(
                f"the record stored under {event['cid']} is not the one published in {tx_hash}",
                details=details,
            )
        return self._entry(record, "0x" + digest.hex(), tx_hash, log)
