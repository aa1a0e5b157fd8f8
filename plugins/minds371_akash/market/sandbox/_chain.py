"""Chain routes for the CLI stand-ins: LCD queries under ``/akash/...`` and a tx broadcast route.

Queries answer with the LCD shapes of ``reference/akash.md`` §3 (deployment v1beta4, market
v1beta5, provider v1beta4, escrow v1). Transactions are posted to ``POST /cosmos/tx/v1beta1/txs`` as
JSON ``{"tx": {"body": {"messages": [...]}, "auth_info": {"signer_infos": [{"public_key":
{"key": <base64>}}]}}, "mode": ...}``; the sandbox checks that the public key belongs to every
message's signer and does not check signatures (README). Errors: ``{"code", "message", "details"}``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from minds371_akash.market.sandbox._hub import Hub
from minds371_akash.market.sandbox._identity import address_of
from minds371_akash.market.sandbox._records import Deployment, Group
from minds371_akash.market.sandbox._views import bid_view, coin, escrow_view, resources_offer
from minds371_akash.market.sandbox._world import WorldError

__all__ = ["chain_routes", "lcd_group_spec"]

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


def lcd_group_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A GroupSpec in the LCD's spelling (``quantity``, enum names, empty attribute lists)."""
    requirements = spec.get("requirements") or {}
    signed = requirements.get("signed_by") or {}
    return {
        "name": spec.get("name", ""),
        "requirements": {
            "signed_by": {
                "all_of": list(signed.get("all_of") or []),
                "any_of": list(signed.get("any_of") or []),
            },
            "attributes": list(requirements.get("attributes") or []),
        },
        "resources": [
            {
                "resource": {
                    "id": int((unit.get("resource") or {}).get("id", i + 1)),
                    **offer["resources"],
                },
                "count": offer["count"],
                "price": coin(
                    Decimal(str((unit.get("price") or {}).get("amount", "0"))),
                    str((unit.get("price") or {}).get("denom", "uact")),
                ),
            }
            for i, (unit, offer) in enumerate(
                zip(spec.get("resources") or [], resources_offer(spec), strict=True)
            )
        ],
    }


def _deployment_info(dep: Deployment) -> dict[str, Any]:
    return {
        "deployment": {
            "id": {"owner": dep.owner, "dseq": str(dep.dseq)},
            "state": dep.state,
            "hash": base64.b64encode(dep.hash).decode(),
            "created_at": str(dep.created_at),
        },
        "groups": [_group(dep, g) for g in dep.groups],
        "escrow_account": escrow_view(dep),
    }


def _group(dep: Deployment, group: Group) -> dict[str, Any]:
    return {
        "id": {"owner": dep.owner, "dseq": str(dep.dseq), "gseq": group.gseq},
        "state": group.state,
        "group_spec": lcd_group_spec(group.spec),
        "created_at": str(group.created_at),
    }


def _match(params: Mapping[str, str], key: str, value: object) -> bool:
    wanted = params.get(f"filters.{key}")
    if wanted in (None, "") or (key in ("gseq", "oseq") and wanted == "0"):
        return True
    return str(wanted) == str(value)


def _page(items: list[Any], key: str) -> dict[str, Any]:
    return {key: items, "pagination": {"next_key": None, "total": str(len(items))}}


class _ChainApi:
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
            "/akash.escrow.v1.MsgAccountDeposit": (lambda m: str(m["signer"]), self._deposit),
        }

    async def h_deployment_info(self, request: Request) -> Response:
        q = request.query_params
        try:
            dep = self.world.deployment(q.get("id.owner", ""), int(q.get("id.dseq", "")))
        except (ValueError, WorldError):
            return _lcd_error(404, 5, "deployment not found")
        return JSONResponse(_deployment_info(dep))

    async def h_deployment_list(self, request: Request) -> Response:
        q = request.query_params
        deps = [
            _deployment_info(d)
            for d in self.world.deployments_of(q.get("filters.owner") or None)
            if _match(q, "state", d.state) and _match(q, "dseq", d.dseq)
        ]
        return JSONResponse(_page(deps, "deployments"))

    async def h_bid_list(self, request: Request) -> Response:
        q = request.query_params
        out = []
        for dep in self.world.deployments_of(q.get("filters.owner") or None):
            if not _match(q, "dseq", dep.dseq):
                continue
            for group in dep.groups:
                for order in group.orders:
                    for bid in order.bids:
                        if all(
                            _match(q, k, v)
                            for k, v in (
                                ("gseq", group.gseq),
                                ("oseq", order.oseq),
                                ("provider", bid.provider),
                                ("state", bid.state),
                            )
                        ):
                            out.append(bid_view(self.hub, dep, group, order, bid))
        return JSONResponse(_page(out, "bids"))

    async def h_lease_list(self, request: Request) -> Response:
        q = request.query_params
        out = []
        for dep in self.world.deployments_of(q.get("filters.owner") or None):
            if not _match(q, "dseq", dep.dseq):
                continue
            for lease in dep.leases:
                if not all(
                    _match(q, k, v)
                    for k, v in (
                        ("gseq", lease.gseq),
                        ("oseq", lease.oseq),
                        ("provider", lease.provider),
                        ("state", lease.state),
                    )
                ):
                    continue
                lease_id = {
                    "owner": dep.owner,
                    "dseq": str(dep.dseq),
                    "gseq": lease.gseq,
                    "oseq": lease.oseq,
                    "provider": lease.provider,
                    "bseq": 0,
                }
                blocks = (lease.closed_on or self.world.height) - lease.created_at
                item: dict[str, Any] = {
                    "lease": {
                        "id": lease_id,
                        "state": lease.state,
                        "price": coin(lease.price),
                        "created_at": str(lease.created_at),
                        "closed_on": str(lease.closed_on),
                    },
                    "escrow_payment": {
                        "id": {
                            "aid": {"scope": "deployment", "xid": f"{dep.owner}/{dep.dseq}"},
                            "xid": f"{lease.gseq}/{lease.oseq}/{lease.provider}",
                        },
                        "state": {
                            "owner": lease.provider,
                            "state": "open"
                            if lease.state == "active"
                            else ("overdrawn" if lease.state == "insufficient_funds" else "closed"),
                            "rate": coin(lease.price),
                            "balance": coin(Decimal(0)),
                            "unsettled": coin(Decimal(0)),
                            "withdrawn": coin(lease.price * max(blocks, 0)),
                        },
                    },
                }
                if lease.reason:
                    item["lease"]["reason"] = lease.reason
                out.append(item)
        return JSONResponse(_page(out, "leases"))

    def _provider(self, address: str, base: str) -> dict[str, Any] | None:
        spec = self.world.providers.get(address)
        if spec is None:
            return None
        return {
            "owner": spec.address,
            "host_uri": f"{base.rstrip('/')}/gateway/{spec.address}",
            "attributes": [{"key": k, "value": v} for k, v in spec.all_attributes().items()],
            "info": {"email": "", "website": ""},
        }

    async def h_providers(self, request: Request) -> Response:
        base = str(request.base_url)
        return JSONResponse(
            _page([p for a in self.world.providers if (p := self._provider(a, base))], "providers")
        )

    async def h_provider(self, request: Request) -> Response:
        found = self._provider(request.path_params["owner"], str(request.base_url))
        if found is None:
            return _lcd_error(404, 5, "invalid provider: address not found")
        return JSONResponse({"provider": found})

    async def h_params(self, request: Request) -> Response:
        minimum = str(self.world.config.min_deposit)
        return JSONResponse(
            {
                "params": {
                    "min_deposits": [
                        {"denom": "uact", "amount": minimum},
                        {"denom": "uakt", "amount": minimum},
                    ]
                }
            }
        )

    async def h_balances(self, request: Request) -> Response:
        acct = self.world.account(request.path_params["address"])
        return JSONResponse(
            _page([{"denom": "uact", "amount": str(int(acct.balance))}], "balances")
        )

    async def h_latest(self, request: Request) -> Response:
        height = str(self.world.height)
        return JSONResponse({"block": {"header": {"chain_id": "sandbox-1", "height": height}}})

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
        events: list[dict[str, Any]] = []
        try:
            for index, message in enumerate(messages):
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
                self.world.account(signer, signers[signer])
                events.append(handler[1](message))
        except WorldError as exc:
            return _tx_result(
                self.world.height,
                txhash,
                _CODESPACE.get(exc.kind, 1),
                "akash",
                f"failed to execute message; {exc.message}",
                [],
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            return _tx_result(self.world.height, txhash, 2, "sdk", f"invalid message: {exc!r}", [])
        return _tx_result(self.world.height, txhash, 0, "", "", events)

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

    def _deposit(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        owner, dseq = str(msg["id"]["xid"]).split("/")
        amount = msg["deposit"]["amount"]
        if amount.get("denom") != "uact":
            raise WorldError("invalid", "Invalid coin denominations: deposit denom must be uact")
        self.world.deposit(
            owner, int(dseq), Decimal(str(amount["amount"])), depositor=str(msg["signer"])
        )
        return _event("akash.escrow.v1.EventAccountDeposit", {"id": msg["id"], "amount": amount})

    def routes(self) -> list[Any]:
        """The routes."""
        return [
            Route(
                "/akash/deployment/v1beta4/deployments/info",
                self.h_deployment_info,
                methods=["GET"],
            ),
            Route(
                "/akash/deployment/v1beta4/deployments/list",
                self.h_deployment_list,
                methods=["GET"],
            ),
            Route("/akash/deployment/v1beta4/params", self.h_params, methods=["GET"]),
            Route("/akash/market/v1beta5/bids/list", self.h_bid_list, methods=["GET"]),
            Route("/akash/market/v1beta5/leases/list", self.h_lease_list, methods=["GET"]),
            Route("/akash/provider/v1beta4/providers", self.h_providers, methods=["GET"]),
            Route("/akash/provider/v1beta4/providers/{owner}", self.h_provider, methods=["GET"]),
            Route("/cosmos/bank/v1beta1/balances/{address}", self.h_balances, methods=["GET"]),
            Route("/cosmos/tx/v1beta1/txs", self.h_broadcast, methods=["POST"]),
            Route("/cosmos/base/tendermint/v1beta1/blocks/latest", self.h_latest, methods=["GET"]),
        ]


def chain_routes(hub: Hub) -> list[Any]:
    """LCD query routes and the tx broadcast route."""
    return _ChainApi(hub).routes()


def _event(kind: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    import json

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
