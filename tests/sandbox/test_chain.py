from __future__ import annotations

import base64
from typing import Any

import httpx

from minds371_sandbox import SandboxNetwork, identity_for_key_name
from minds371_sandbox._manifests import build_from_sdl
from tests.sandbox.specs import sdl


def tx(messages: list[Any], key: bytes) -> dict[str, Any]:
    info = {
        "public_key": {
            "@type": "/cosmos.crypto.secp256k1.PubKey",
            "key": base64.b64encode(key).decode(),
        }
    }
    return {
        "tx": {"body": {"messages": messages}, "auth_info": {"signer_infos": [info]}},
        "mode": "BROADCAST_MODE_BLOCK",
    }


async def broadcast(client: httpx.AsyncClient, messages: list[Any], key: bytes) -> dict[str, Any]:
    r = await client.post("/cosmos/tx/v1beta1/txs", json=tx(messages, key))
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["tx_response"]
    return result


async def test_transactions_need_the_signers_key_and_well_formed_messages() -> None:
    alice, bob = identity_for_key_name("alice"), identity_for_key_name("bob")
    built = build_from_sdl(sdl(), console=False)
    create = {
        "@type": "/akash.deployment.v1beta4.MsgCreateDeployment",
        "id": {"owner": alice.address, "dseq": "42"},
        "groups": built.group_specs,
        "hash": base64.b64encode(built.version).decode(),
        "deposit": {"amount": {"denom": "uact", "amount": "500000"}, "sources": ["balance"]},
    }
    async with SandboxNetwork(manual_clock=True) as net:
        client = net.client(api_key=None)
        refused = await broadcast(client, [create], bob.public_key)
        assert refused["code"] != 0 and "does not match signer" in refused["raw_log"]
        assert (await broadcast(client, ["not a message"], alice.public_key))["code"] != 0
        assert (await broadcast(client, [{"@type": "/akash.unknown.MsgX"}], alice.public_key))[
            "code"
        ] != 0
        done = await broadcast(client, [create], alice.public_key)
        assert done["code"] == 0
        assert net.world.public_key_of(alice.address) == alice.public_key
        again = await broadcast(client, [create], alice.public_key)
        assert "already exists" in again["raw_log"]
        r = await client.get(
            "/akash/deployment/v1beta4/deployments/info",
            params={"id.owner": alice.address, "id.dseq": "42"},
        )
        info = r.json()
        assert info["deployment"]["id"] == {"owner": alice.address, "dseq": "42"}
        resource = info["groups"][0]["group_spec"]["resources"][0]["resource"]
        assert "quantity" in resource["memory"]  # LCD spelling, not the manifest's "size"
        assert info["groups"][0]["group_spec"]["resources"][0]["price"]["amount"].endswith(
            ".000000000000000000"
        )
        r = await client.get(
            "/akash/deployment/v1beta4/deployments/info",
            params={"id.owner": alice.address, "id.dseq": "43"},
        )
        assert r.status_code == 404 and r.json() == {
            "code": 5,
            "message": "deployment not found",
            "details": [],
        }
        await net.advance(2)
        all_bids = (
            await client.get(
                "/akash/market/v1beta5/bids/list",
                params={
                    "filters.owner": alice.address,
                    "filters.dseq": "42",
                    "pagination.count_total": "true",
                },
            )
        ).json()
        # the total is counted only when asked (cosmos-sdk types/query/pagination.go)
        assert len(all_bids["bids"]) == 5 and all_bids["pagination"]["total"] == "5"
        page = (
            await client.get(
                "/akash/market/v1beta5/bids/list",
                params={"filters.owner": alice.address, "pagination.limit": "2"},
            )
        ).json()
        assert len(page["bids"]) == 2 and page["pagination"]["total"] == "0"
        rest = (
            await client.get(
                "/akash/market/v1beta5/bids/list",
                params={
                    "filters.owner": alice.address,
                    "pagination.limit": "10",
                    "pagination.key": page["pagination"]["next_key"],
                },
            )
        ).json()
        assert len(rest["bids"]) == 3 and rest["pagination"]["next_key"] is None
        one = (
            await client.get(
                "/akash/market/v1beta5/bids/list",
                params={
                    "filters.owner": alice.address,
                    "filters.provider": net.provider("falcon").address,
                },
            )
        ).json()
        assert len(one["bids"]) == 1
