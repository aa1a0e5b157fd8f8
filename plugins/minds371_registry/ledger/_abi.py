"""The registry contract's compiled ABI and bytecode, and ABI encoding helpers built on eth-abi.

The Solidity source, ABI and bytecode live in ``contracts/`` beside this module (``compile.sh``
rebuilds the last two with solc-js 0.8.30).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak

__all__ = [
    "Contract",
    "describe_revert",
    "registry_contract",
]

_PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def _type_of(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_type_of(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_type_of(p) for p in item.get('inputs', []))})"


class Contract:
    """A contract interface read from its ABI JSON.

    Args:
        abi: The ABI entries.
        bytecode: The creation bytecode (hex, without ``0x``), if it can be deployed.
    """

    def __init__(self, abi: list[dict[str, Any]], bytecode: str = "") -> None:
        self.abi = abi
        self.bytecode = bytecode
        self._functions = {i["name"]: i for i in abi if i["type"] == "function"}
        self._events = {i["name"]: i for i in abi if i["type"] == "event"}
        self._errors = {keccak(_signature(i).encode())[:4]: i for i in abi if i["type"] == "error"}

    def encode_call(self, name: str, *args: Any) -> str:
        """Calldata (``0x``-hex) calling function ``name`` with ``args``."""
        item = self._functions[name]
        types = [_type_of(p) for p in item["inputs"]]
        selector = keccak(_signature(item).encode())[:4]
        return "0x" + (selector + abi_encode(types, list(args))).hex()

    def decode_output(self, name: str, data: str) -> tuple[Any, ...]:
        """Decode what function ``name`` returned (``0x``-hex)."""
        types = [_type_of(p) for p in self._functions[name]["outputs"]]
        return tuple(abi_decode(types, bytes.fromhex(data.removeprefix("0x"))))

    def event_topic(self, name: str) -> str:
        """Topic 0 of event ``name`` (``0x``-hex)."""
        return "0x" + keccak(_signature(self._events[name]).encode()).hex()

    def decode_event(self, name: str, log: dict[str, Any]) -> dict[str, Any]:
        """Decode a log of event ``name`` into ``{argument: value}`` (indexed ones included)."""
        item = self._events[name]
        topics = [bytes.fromhex(t.removeprefix("0x")) for t in log["topics"][1:]]
        indexed = [p for p in item["inputs"] if p["indexed"]]
        plain = [p for p in item["inputs"] if not p["indexed"]]
        values = abi_decode(
            [_type_of(p) for p in plain], bytes.fromhex(str(log["data"]).removeprefix("0x"))
        )
        out: dict[str, Any] = dict(zip((p["name"] for p in plain), values, strict=True))
        for param, topic in zip(indexed, topics, strict=True):
            out[param["name"]] = abi_decode([_type_of(param)], topic)[0]
        return out

    def decode_error(self, data: str) -> str | None:
        """Render revert data as ``Name(arg=value, ...)``; None if it matches no known error."""
        raw = bytes.fromhex(data.removeprefix("0x")) if data else b""
        if len(raw) < 4:
            return None
        selector, payload = raw[:4], raw[4:]
        try:
            if selector == keccak(b"Error(string)")[:4]:
                return str(abi_decode(["string"], payload)[0])
            if selector == keccak(b"Panic(uint256)")[:4]:
                code = int(abi_decode(["uint256"], payload)[0])
                return f"panic 0x{code:02x}: {_PANIC_REASONS.get(code, 'unknown')}"
            item = self._errors.get(selector)
            if item is None:
                return None
            values = abi_decode([_type_of(p) for p in item["inputs"]], payload)
        except DecodingError:
            return None
        args = ", ".join(
            f"{p['name']}={_render(v)}" for p, v in zip(item["inputs"], values, strict=True)
        )
        return f"{item['name']}({args})"


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) and not value.startswith("0x") else str(value)


def describe_revert(contract: Contract, data: str | None, message: str) -> str:
    """A person-readable revert reason from revert ``data`` (preferred) or the node's message."""
    decoded = contract.decode_error(data or "")
    return decoded or message


@cache
def registry_contract() -> Contract:
    """The ``Minds371Registry`` contract: ABI and creation bytecode as committed."""
    folder = resources.files("minds371_registry.ledger") / "contracts"
    abi = json.loads((folder / "Minds371Registry.abi.json").read_text())
    bytecode = (folder / "Minds371Registry.bin").read_text().strip()
    return Contract(abi, bytecode)
