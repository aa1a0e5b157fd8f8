"""The chain's tx broadcast route, ``POST /cosmos/tx/v1beta1/txs``, for the CLI stand-ins.

Transactions are JSON ``{"tx": {"body": {"messages": [...]}, "auth_info": {"signer_infos":
[{"public_key": {"key": <base64>}}]}}, "mode": ...}``. The sandbox checks that the public key's
address is every message's signer and does not check signatures (README). The answer is a
``tx_response`` with typed events carrying the new ids; a refused message gives ``code`` != 0 and
the chain's message in ``raw_log``.

Modes: ``BROADCAST_MODE_BLOCK`` executes the tx at once and answers with its result.
``BROADCAST_MODE_SYNC`` (what ``--broadcast-mode sync`` / ``AKASH_BROADCAST_MODE=sync`` sends)
only admits it to the mempool: the answer has height 0 and code 0, and the tx executes when the
next block is produced (its failure is then seen by no one, as on the real chain). While an
account has a tx in the mempool, its next tx carries the same sequence number as far as the CLI
knows (it reads the committed sequence) and is refused at admission with code 32, "account
sequence mismatch, expected N+1, got N: incorrect account sequence" (cosmos-sdk ante handler;
chain-sdk ``go/node/client/v1beta3/tx.go`` matches that text).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from minds371_sandbox._hub import Hub
from minds371_sandbox._identity import address_of
from minds371_sandbox._world import WorldError

__all__ = ["certificate_serial", "tx_routes"]

_CODESPACE = {
    "not_found": 5,
    "invalid": 3,
    "exists": 7,
    "funds": 5,
    "deposit": 9,
    "closed": 4,
    "lease": 11,
}


def _lcd_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "details": []}, status_code=status)


class _TxApi:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.world = hub.world
        self._handlers: dict[
            str,
            tuple[
                Callable[[Mapping[str, Any]], str], Callable[[Mapping[str, Any]], dict[str, Any]]
            ],
        ] = {
            "/akash.deployment.v1beta4.MsgCreateDeployment": (
                lambda m: str(m["id"]["owner"]),
                self._create,
            ),
            "/akash.deployment.v1beta4.MsgUpdateDeployment": (
                lambda m: str(m["id"]["owner"]),
                self._update,
            ),
            "/akash.deployment.v1beta4.MsgCloseDeployment": (
                lambda m: str(m["id"]["owner"]),
                self._close,
            ),
            "/akash.market.v1beta5.MsgCreateLease": (
                lambda m: str(m["bid_id"]["owner"]),
                self._lease,
            ),
            "/akash.market.v1beta5.MsgCloseLease": (
                lambda m: str(m["id"]["owner"]),
                self._close_lease,
            ),
            "/akash.escrow.v1.MsgAccountDeposit": (lambda m: str(m["signer"]), self._deposit),
            "/akash.cert.v1.MsgCreateCertificate": (lambda m: str(m["owner"]), self._certificate),
        }
        self._sequence: dict[str, int] = {}  # committed txs per account

    async def h_broadcast(self, request: Request) -> Response:
        try:
            body = await request.json()
            tx = body["tx"]
            messages = tx["body"]["messages"]
            keys = [
                base64.b64decode(info["public_key"]["key"])
                for info in tx.get("auth_info", {}).get("signer_infos", [])
            ]
        except (ValueError, KeyError, TypeError):
            return _lcd_error(
                400, 3, "invalid tx: expected {tx: {body: {messages}, auth_info: {signer_infos}}}"
            )
        txhash = (
            hashlib.sha256(repr(body).encode() + str(self.world.height).encode())
            .hexdigest()
            .upper()
        )
        if not isinstance(messages, list) or not messages or not keys:
            return _tx_result(
                self.world.height, txhash, 2, "tx", "invalid tx: no messages or no signer", []
            )
        signers = {address_of(key): key for key in keys}
        pending = {signer for signer, _ in self.world.mempool}
        busy = sorted(set(signers) & pending)
        if busy:
            sequence = self._sequence.get(busy[0], 0)
            return _tx_result(
                0,
                txhash,
                32,
                "sdk",
                f"account sequence mismatch, expected {sequence + 1}, got {sequence}: "
                "incorrect account sequence",
                [],
            )
        if body.get("mode") == "BROADCAST_MODE_SYNC":
            try:
                self._check(messages, signers)  # CheckTx refuses at admission
            except (WorldError, KeyError, TypeError, ValueError) as exc:
                text = exc.message if isinstance(exc, WorldError) else f"invalid message: {exc!r}"
                return _tx_result(0, txhash, 2, "sdk", text, [])
            first = next(iter(signers))

            def deliver() -> None:
                self._execute(messages, signers, txhash)

            self.world.mempool.append((first, deliver))
            return _tx_result(0, txhash, 0, "", "", [])
        code, codespace, raw_log, events = self._execute(messages, signers, txhash)
        return _tx_result(self.world.height, txhash, code, codespace, raw_log, events)

    def _check(self, messages: list[Any], signers: Mapping[str, bytes]) -> None:
        """The ante checks (CheckTx): message types and signers.

        Raises:
            WorldError: A message is malformed, unknown or not signed by its signer.
        """
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                raise WorldError("invalid", f"message index {index}: not a message object")
            kind = str(message.get("@type", ""))
            handler = self._handlers.get(kind)
            if handler is None:
                raise WorldError("invalid", f"unknown message type {kind!r}")
            signer = handler[0](message)
            if signer not in signers:
                raise WorldError(
                    "invalid",
                    f"message index {index}: pubkey does not match signer address {signer}",
                )

    def _execute(
        self, messages: list[Any], signers: Mapping[str, bytes], txhash: str
    ) -> tuple[int, str, str, list[dict[str, Any]]]:
        """Run every message (DeliverTx); ``(code, codespace, raw_log, events)``."""
        for signer in signers:
            self._sequence[signer] = self._sequence.get(signer, 0) + 1
        events: list[dict[str, Any]] = []
        try:
            self._check(messages, signers)
            for message in messages:
                handler = self._handlers[str(message["@type"])]
                signer = handler[0](message)
                self.world.account(signer, signers[signer])
                events.append(handler[1](message))
        except WorldError as exc:
            return (
                _CODESPACE.get(exc.kind, 1),
                "akash",
                f"failed to execute message; {exc.message}",
                [],
            )
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            return 2, "sdk", f"invalid message: {exc!r}", []
        return 0, "", "", events

    def _create(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        deposit = msg.get("deposit") or {}
        amount = deposit.get("amount") or {}
        if amount.get("denom") != "uact":
            raise WorldError("invalid", "Invalid coin denominations: deposit denom must be uact")
        owner, dseq = str(msg["id"]["owner"]), int(msg["id"]["dseq"])
        sources = deposit.get("sources") or ["balance"]
        self.world.create_deployment(
            owner,
            list(msg["groups"]),
            base64.b64decode(msg["hash"]),
            Decimal(str(amount.get("amount", "0"))),
            dseq=dseq,
            source=str(sources[0]),
        )
        return _event(
            "akash.deployment.v1beta4.EventDeploymentCreated",
            {"id": {"owner": owner, "dseq": str(dseq)}},
        )

    def _update(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        owner, dseq = str(msg["id"]["owner"]), int(msg["id"]["dseq"])
        self.world.update_deployment(owner, dseq, base64.b64decode(msg["hash"]))
        return _event(
            "akash.deployment.v1beta4.EventDeploymentUpdated",
            {"id": {"owner": owner, "dseq": str(dseq)}},
        )

    def _close(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        owner, dseq = str(msg["id"]["owner"]), int(msg["id"]["dseq"])
        if self.world.deployment(owner, dseq).state != "active":
            raise WorldError("closed", "Deployment closed")
        self.world.close_deployment(owner, dseq)
        return _event(
            "akash.deployment.v1beta4.EventDeploymentClosed",
            {"id": {"owner": owner, "dseq": str(dseq)}},
        )

    def _lease(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        bid = msg["bid_id"]
        self.world.create_lease(
            str(bid["owner"]),
            int(bid["dseq"]),
            int(bid["gseq"]),
            int(bid["oseq"]),
            str(bid["provider"]),
        )
        return _event(
            "akash.market.v1.EventLeaseCreated", {"id": {**bid, "dseq": str(bid["dseq"])}}
        )

    def _close_lease(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        # The lease id's owner is the message's signer, so only the owner gets this far; a
        # key that is not the owner's is refused above ("pubkey does not match signer").
        lease_id = msg["id"]
        lease = self.world.owner_close_lease(
            str(lease_id["owner"]),
            int(lease_id["dseq"]),
            int(lease_id["gseq"]),
            int(lease_id["oseq"]),
            str(lease_id["provider"]),
        )
        return _event(
            "akash.market.v1.EventLeaseClosed",
            {"id": {**lease_id, "dseq": str(lease_id["dseq"])}, "reason": lease.reason},
        )

    def _deposit(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        owner, dseq = str(msg["id"]["xid"]).split("/")
        amount = msg["deposit"]["amount"]
        if amount.get("denom") != "uact":
            raise WorldError("invalid", "Invalid coin denominations: deposit denom must be uact")
        self.world.deposit(
            owner, int(dseq), Decimal(str(amount["amount"])), depositor=str(msg["signer"])
        )
        return _event("akash.escrow.v1.EventAccountDeposit", {"id": msg["id"], "amount": amount})

    def _certificate(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        """``MsgCreateCertificate``: the owner's client certificate, valid from now on."""
        owner = str(msg["owner"])
        cert, pubkey = str(msg["cert"]), str(msg["pubkey"])
        serial = certificate_serial(base64.b64decode(cert))
        if serial is None:
            raise WorldError("invalid", "certificate error: invalid certificate")
        held = self.world.certificates.setdefault(owner, [])
        if any(c["serial"] == serial for c in held):
            raise WorldError("exists", "certificate error: certificate already exists")
        held.append({"serial": serial, "state": "valid", "cert": cert, "pubkey": pubkey})
        return _event("akash.cert.v1.EventCertificateCreated", {"owner": owner, "serial": serial})

    def routes(self) -> list[Any]:
        """The routes."""
        return [Route("/cosmos/tx/v1beta1/txs", self.h_broadcast, methods=["POST"])]


def tx_routes(hub: Hub) -> list[Any]:
    """The tx broadcast route."""
    return _TxApi(hub).routes()


def certificate_serial(pem: bytes) -> str | None:
    """The serial of a stand-in certificate (PEM whose body is JSON with ``serial``)."""
    lines = pem.decode("ascii", "replace").strip().splitlines()
    if len(lines) < 3 or lines[0] != "-----BEGIN CERTIFICATE-----":
        return None
    try:
        body = json.loads(base64.b64decode("".join(lines[1 : lines.index(_PEM_END)])))
    except (ValueError, TypeError):
        return None
    serial = body.get("serial") if isinstance(body, dict) else None
    return str(serial) if serial else None


_PEM_END = "-----END CERTIFICATE-----"


def _event(kind: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "attributes": [
            {"key": k, "value": json.dumps(v, separators=(",", ":")), "index": True}
            for k, v in attributes.items()
        ],
    }


def _tx_result(
    height: int, txhash: str, code: int, codespace: str, raw_log: str, events: list[dict[str, Any]]
) -> JSONResponse:
    return JSONResponse(
        {
            "tx_response": {
                "height": str(height),
                "txhash": txhash,
                "codespace": codespace,
                "code": code,
                "data": "",
                "raw_log": raw_log,
                "logs": [],
                "info": "",
                "gas_wanted": "200000",
                "gas_used": "150000" if code == 0 else "0",
                "tx": None,
                "timestamp": "",
                "events": events,
            }
        }
    )
