"""Small helpers for sandbox tests: drive a deployment through the Console routes."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import httpx
import jsonschema
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

from tests.sandbox.specs import sdl


def response_schema(openapi: dict[str, Any], path: str, method: str, status: int) -> Any:
    op = openapi["paths"][path][method]
    return op["responses"][str(status)]["content"]["application/json"]["schema"]


def _nullable(schema: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` as JSON Schema (``type: [X, "null"]``)."""
    if isinstance(schema, list):
        return [_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in schema:
        out["type"] = [schema["type"], "null"]
    return out


def check_shape(openapi: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    schema = response_schema(openapi, path, method, response.status_code)
    jsonschema.validate(response.json(), _nullable(schema))


#: The deposit Console's own web app sends with a create, in dollars.
DEPOSIT_USD = 0.5


async def create(client: httpx.AsyncClient, text: str | None = None) -> tuple[str, str]:
    r = await client.post(
        "/v1/deployments", json={"data": {"sdl": text or sdl(), "deposit": DEPOSIT_USD}}
    )
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    return data["dseq"], data["manifest"]


async def wait_for_bids(
    client: httpx.AsyncClient, dseq: str, count: int = 1
) -> list[dict[str, Any]]:
    with anyio.fail_after(5):
        while True:
            r = await client.get("/v1/bids", params={"dseq": dseq})
            assert r.status_code == 200, r.text
            bids = [b for b in r.json()["data"] if b["bid"]["state"] == "open"]
            if len(bids) >= count:
                return bids
            await anyio.sleep(0.01)


async def lease_cheapest(client: httpx.AsyncClient, dseq: str, manifest: str) -> httpx.Response:
    bids = await wait_for_bids(client, dseq)
    best = min(bids, key=lambda b: float(b["bid"]["price"]["amount"]))["bid"]["id"]
    leases = [
        {"dseq": dseq, "gseq": best["gseq"], "oseq": best["oseq"], "provider": best["provider"]}
    ]
    return await client.post("/v1/leases", json={"manifest": manifest, "leases": leases})


async def wait_ready(client: httpx.AsyncClient, dseq: str) -> dict[str, Any]:
    with anyio.fail_after(5):
        while True:
            r = await client.get(f"/v1/deployments/{dseq}")
            data: dict[str, Any] = r.json()["data"]
            statuses = [lease["status"] for lease in data["leases"] if lease["state"] == "active"]
            if statuses and all(
                s
                and s["services"]
                and all(v["available"] == v["total"] for v in s["services"].values())
                for s in statuses
            ):
                return data
            await anyio.sleep(0.01)


def ws_connect(
    url: str, client: httpx.AsyncClient, headers: dict[str, str] | None = None
) -> AbstractAsyncContextManager[AsyncWebSocketSession]:
    connect: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
        url, client, headers=headers or {}
    )
    return connect


async def read_until_closed(ws: AsyncWebSocketSession) -> tuple[list[dict[str, Any]], int, str]:
    frames: list[dict[str, Any]] = []
    while True:
        try:
            frames.append(json.loads(await ws.receive_text()))
        except WebSocketDisconnect as exc:
            return frames, exc.code, exc.reason or ""
