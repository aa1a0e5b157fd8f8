"""Sending EIP-1559 transactions to the registry contract and waiting for their receipts.

The nonce is tracked locally (re-read once when the node says it is stale); gas is estimated with
headroom, which is also where a revert is caught with its decoded reason; a receipt is awaited
and confirmed. Reverts become :class:`~minds371.errors.LedgerError` naming the reason.
"""

from __future__ import annotations

from typing import Any

import anyio

from minds371.errors import LedgerError
from minds371_registry.keys import RecordSigner
from minds371_registry.ledger._abi import describe_revert, registry_contract
from minds371_registry.ledger._jsonrpc import JsonRpcClient, RpcFault

__all__ = ["Transactor", "revert_error"]


class Transactor:
    """Signs, sends and awaits transactions from one account, one at a time."""

    def __init__(
        self,
        rpc: JsonRpcClient,
        signer: RecordSigner,
        chain_id: int,
        receipt_timeout: float,
        confirmations: int = 0,
    ) -> None:
        self._rpc = rpc
        self._account = signer.eth_account()
        self._chain_id = chain_id
        self._receipt_timeout = receipt_timeout
        self._confirmations = confirmations
        self._nonce: int | None = None
        self._lock: anyio.Lock | None = None

    async def send(self, to: str | None, data: str, what: str) -> dict[str, Any]:
        if self._lock is None:
            self._lock = anyio.Lock()
        try:
            async with self._lock:
                tx_hash = await self._submit(to, data, what)
            with anyio.fail_after(self._receipt_timeout):
                receipt = await self._receipt(tx_hash)
                if int(receipt["status"], 16) == 1 and self._confirmations:
                    receipt = await self._confirmed(tx_hash, receipt)
        except RpcFault as fault:
            raise LedgerError(
                f"the EVM node refused a call during {what}: {fault.message}",
                details={"rpc_code": fault.code},
            ) from None
        except TimeoutError:
            raise LedgerError(
                f"{what} was sent ({tx_hash}) but not mined and confirmed within "
                f"{self._receipt_timeout} s",
                retryable=True,
                details={"tx": tx_hash},
            ) from None
        if int(receipt["status"], 16) != 1:
            reason = await self._replay(to, data, receipt)
            raise LedgerError(
                f"the registry contract reverted {what}: {reason}",
                details={"tx": tx_hash, "reason": reason},
            )
        return receipt

    async def _submit(self, to: str | None, data: str, what: str) -> str:
        for attempt in range(2):
            if self._nonce is None:
                count = await self._rpc.call(
                    "eth_getTransactionCount", self._account.address, "pending"
                )
                self._nonce = int(count, 16)
            call: dict[str, Any] = {"from": self._account.address, "data": data}
            if to is not None:
                call["to"] = to
            try:
                estimate = int(await self._rpc.call("eth_estimateGas", call), 16)
            except RpcFault as fault:
                raise revert_error(fault, what) from None
            block = await self._rpc.call("eth_getBlockByNumber", "latest", False)
            tip = int(await self._rpc.call("eth_maxPriorityFeePerGas"), 16)
            base = int(block.get("baseFeePerGas", "0x0"), 16)
            tx: dict[str, Any] = {
                "type": 2,
                "chainId": self._chain_id,
                "nonce": self._nonce,
                "data": data,
                "value": 0,
                "gas": estimate + estimate // 4,  # headroom: state may change before mining
                "maxPriorityFeePerGas": tip,
                "maxFeePerGas": 2 * base + tip,
            }
            if to is not None:
                tx["to"] = to
            raw = "0x" + bytes(self._account.sign_transaction(tx).raw_transaction).hex()
            try:
                tx_hash = str(await self._rpc.call("eth_sendRawTransaction", raw))
            except RpcFault as fault:
                if "nonce" in fault.message.lower() and attempt == 0:
                    self._nonce = None  # another sender used the account: re-read it once
                    continue
                raise revert_error(fault, what) from None
            self._nonce += 1
            return tx_hash
        raise LedgerError(f"could not find a usable nonce for {what}", retryable=True)

    async def _receipt(self, tx_hash: str) -> dict[str, Any]:
        delay = 0.05
        while True:
            receipt = await self._rpc.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            await anyio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _confirmed(self, tx_hash: str, receipt: dict[str, Any]) -> dict[str, Any]:
        # Wait for `confirmations` blocks on top, then check that the transaction is still in
        # the block it was mined in: a reorganisation may have dropped or moved it.
        target = int(receipt["blockNumber"], 16) + self._confirmations
        delay = 0.05
        while int(await self._rpc.call("eth_blockNumber"), 16) < target:
            await anyio.sleep(delay)
            delay = min(delay * 2, 2.0)
        again = await self._rpc.call("eth_getTransactionReceipt", tx_hash)
        if again is None or again.get("blockHash") != receipt.get("blockHash"):
            raise LedgerError(
                f"transaction {tx_hash} was dropped or moved by a chain reorganisation",
                retryable=True,
                details={"tx": tx_hash},
            )
        return dict(again)

    async def _replay(self, to: str | None, data: str, receipt: dict[str, Any]) -> str:
        call = {"from": self._account.address, "to": to, "data": data}
        try:
            await self._rpc.call("eth_call", call, receipt["blockNumber"])
        except RpcFault as fault:
            return describe_revert(registry_contract(), fault.revert_data, fault.message)
        return "reverted (no reason given)"


def revert_error(fault: RpcFault, what: str) -> LedgerError:
    reason = describe_revert(registry_contract(), fault.revert_data, fault.message)
    return LedgerError(
        f"the registry contract refused {what}: {reason}",
        details={"reason": reason, "rpc_code": fault.code},
    )
