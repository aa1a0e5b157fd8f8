"""Chain routes for the CLI stand-ins: LCD queries under ``/akash/...`` (and the tx route).

Queries answer with the LCD shapes of ``reference/akash.md`` §3 (deployment v1beta4, market
v1beta5, provider v1beta4, escrow v1); errors are ``{"code", "message", "details"}``. The tx
broadcast route is in :mod:`._chain_tx`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from minds371_sandbox._chain_tx import tx_routes
from minds371_sandbox._hub import Hub
from minds371_sandbox._records import Deployment, Group
from minds371_sandbox._views import (
    bid_view,
    coin,
    deployment_record,
    escrow_view,
    resources_offer,
)
from minds371_sandbox._world import WorldError

__all__ = ["chain_routes", "lcd_group_spec"]


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
        "deployment": deployment_record(dep),
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
    # A zero sequence is no filter, as in the chain's filter structs.
    if wanted in (None, "") or (key in ("dseq", "gseq", "oseq") and wanted == "0"):
        return True
    return str(wanted) == str(value)


_PAGE_LIMIT = 100  # cosmos-sdk types/query/pagination.go DefaultLimit


def _page(items: list[Any], key: str, params: Mapping[str, str]) -> dict[str, Any]:
    """One page of ``items`` as the chain's list queries answer (``pagination.*`` parameters).

    As cosmos-sdk ``types/query/pagination.go``: at most ``pagination.limit`` items (100 by
    default) from ``pagination.key`` (opaque, base64 in JSON) or ``pagination.offset``; a
    ``next_key`` while more remain; ``total`` only with ``pagination.count_total`` and no key.
    """
    raw_key = params.get("pagination.key") or ""
    try:
        limit = int(params.get("pagination.limit") or 0) or _PAGE_LIMIT
        start = int(params.get("pagination.offset") or 0)
        if raw_key:
            start = int.from_bytes(base64.b64decode(raw_key, validate=True), "big")
    except ValueError:
        start, limit = len(items), _PAGE_LIMIT
    if params.get("pagination.reverse") == "true":
        items = list(reversed(items))
    end = start + limit
    next_key = base64.b64encode(end.to_bytes(8, "big")).decode() if end < len(items) else None
    counted = params.get("pagination.count_total") == "true" and not raw_key
    return {
        key: items[start:end],
        "pagination": {"next_key": next_key, "total": str(len(items)) if counted else "0"},
    }


class _ChainApi:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.world = hub.world

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
        return JSONResponse(_page(deps, "deployments", q))

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
        return JSONResponse(_page(out, "bids", q))

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
        return JSONResponse(_page(out, "leases", q))

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
        found = [p for a in self.world.providers if (p := self._provider(a, base))]
        return JSONResponse(_page(found, "providers", request.query_params))

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
            _page(
                [{"denom": "uact", "amount": str(int(acct.balance))}],
                "balances",
                request.query_params,
            )
        )

    async def h_certificates(self, request: Request) -> Response:
        q = request.query_params
        owner = q.get("filter.owner") or ""
        out = [
            {
                "certificate": {"state": c["state"], "cert": c["cert"], "pubkey": c["pubkey"]},
                "serial": c["serial"],
            }
            for address, held in self.world.certificates.items()
            if owner in ("", address)
            for c in held
            if q.get("filter.state") in (None, "", c["state"])
            and q.get("filter.serial") in (None, "", c["serial"])
        ]
        return JSONResponse(_page(out, "certificates", q))

    async def h_latest(self, request: Request) -> Response:
        height = str(self.world.height)
        return JSONResponse({"block": {"header": {"chain_id": "sandbox-1", "height": height}}})

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
            Route("/akash/cert/v1/certificates/list", self.h_certificates, methods=["GET"]),
            Route("/cosmos/base/tendermint/v1beta1/blocks/latest", self.h_latest, methods=["GET"]),
        ]


def chain_routes(hub: Hub) -> list[Any]:
    """LCD query routes and the tx broadcast route."""
    return [*_ChainApi(hub).routes(), *tx_routes(hub)]
