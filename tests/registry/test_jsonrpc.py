"""Error mapping of the JSON-RPC client (a unit test of one client: MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from minds371.errors import LedgerError
from minds371_registry.ledger._abi import registry_contract
from minds371_registry.ledger._jsonrpc import JsonRpcClient, RpcFault


def _client(handler) -> JsonRpcClient:
    return JsonRpcClient(
        "http://127.0.0.1:8545",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


async def test_error_object_becomes_rpc_fault_with_revert_data():
    from eth_abi.abi import encode

    contract = registry_contract()
    data = "0x08c379a0" + encode(["string"], ["not allowed"]).hex()  # Error(string)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "error": {"code": 3, "message": "execution reverted", "data": data},
            },
        )

    with pytest.raises(RpcFault) as info:
        await _client(handler).call("eth_call", {})
    assert info.value.code == 3 and info.value.revert_data == data
    assert contract.decode_error(data) == "not allowed"


async def test_non_json_rpc_answer_is_a_ledger_error():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway")

    with pytest.raises(LedgerError, match="HTTP 502") as info:
        await _client(handler).call("eth_chainId")
    assert info.value.retryable


def test_custom_errors_and_panics_are_decoded():
    from eth_abi.abi import encode
    from eth_hash.auto import keccak

    contract = registry_contract()
    selector = keccak(b"BadSequence(string,uint64,uint64)")[:4]
    data = "0x" + (selector + encode(["string", "uint64", "uint64"], ["web", 2, 1])).hex()
    assert contract.decode_error(data) == "BadSequence(name='web', expected=2, got=1)"
    panic = "0x4e487b71" + encode(["uint256"], [0x11]).hex()
    assert contract.decode_error(panic) == "panic 0x11: arithmetic overflow or underflow"
    assert contract.decode_error("0xdeadbeef") is None
