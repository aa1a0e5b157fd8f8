"""The CLI backend against stand-ins that behave as the real ``akash`` and ``provider-services``.

Real parts: ``minds371 sandbox serve`` on 127.0.0.1 and the stand-in executables, which take
exactly the real commands' flags, default to block broadcast unless told ``sync``, filter lease
lists on group 1 by default, page lists by 100, need a client certificate for
``tx deployment create``, keep keys in the ``test`` keyring (the real default is ``os``) and print
``lease-status``/``lease-events``/``lease-logs -o json`` as indented JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minds371.errors import ConfigurationError, ManifestRejected
from minds371_akash import AkashIntegrationProvider, BidPolicy
from minds371_akash.market import CliBackend
from minds371_sandbox import SandboxServer, WorldConfig, default_providers, identity_for_key_name
from minds371_sandbox._manifests import build_from_sdl
from minds371_sandbox._world import World
from tests.standins import standins

from .conftest import sdl

BLOCK = 0.05


@pytest.mark.slow  # about 50 stand-in runs (a process start each)
async def test_two_groups_failover_update_and_close_with_sync_broadcast_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = standins(tmp_path, monkeypatch)
    # What Akash's CLI guides have users export: every tx then returns at mempool admission.
    monkeypatch.setenv("AKASH_BROADCAST_MODE", "sync")
    async with SandboxServer(block_time=BLOCK) as server:
        await tools.certify(server.base_url, "twin")
        # keyring_backend only in the config (not in the environment): it must reach
        # provider-services too, whose default is the os keyring. No --chain-id for it either.
        config = tools.config(server.base_url, "twin", chain_id="sandbox-1", block_time=BLOCK)
        async with CliBackend(config) as backend:
            akash = AkashIntegrationProvider(
                backend, policy=BidPolicy(enough_bids=2), bid_timeout=10.0, ready_timeout=60.0
            )
            text = sdl("redundant")
            result = await akash.deploy(text)
            deployment = await backend.get_deployment(result.dseq)
            # both groups' leases are seen (the lease list filters gseq 1 / oseq 1 by default)
            assert sorted(lease.id.gseq for lease in deployment.active_leases) == [1, 2]
            # lease-status has no -o flag: without the fix no status is ever read
            assert all(lease.status is not None for lease in deployment.active_leases)
            first = min(deployment.active_leases, key=lambda lease: lease.id.gseq)

            lines = [line async for line in backend.lease_logs(first.id, tail=3)]
            assert lines and {line.service for line in lines} == {"web"}
            events = [event async for event in backend.lease_events(first.id)]
            assert any(event.reason == "Started" for event in events)

            # The provider's refusal is printed on stdout, the command's error on stderr.
            changed = text.replace("nginx:1.27", "nginx:1.26")
            with pytest.raises(ManifestRejected, match="manifest version validation failed"):
                await backend.send_manifest(result.dseq, [first.id], manifest="", sdl=changed)

            # Failover by the owner: a provider goes away, its lease is closed and its group
            # re-let elsewhere while the other group keeps serving.
            lost = first.id
            kept = next(lease.id for lease in deployment.active_leases if lease.id.gseq == 2)
            await server.set_provider_online(lost.provider, False)
            await backend.close_lease(lost)
            after = await backend.get_deployment(result.dseq, with_status=False)
            closed = next(lease for lease in after.leases if lease.id == lost)
            assert (closed.state, closed.reason) == ("closed", "lease_closed_owner")
            assert any(lease.id == kept and lease.active for lease in after.leases)
            await backend.close_lease(lost)  # a retry after an ambiguous failure is harmless
            relet = await akash.relet_group(result.dseq, 1, text)
            new = next(lease for lease in relet.leases if lease.id.gseq == 1 and lease.active)
            assert new.id.oseq == 2  # the group's order re-opened with the next oseq
            assert new.id.provider not in {lost.provider, kept.provider}
            assert new.status is not None and new.status.ready

            updated = await akash.update(result.dseq, changed)
            assert sorted(lease.id.gseq for lease in updated.active_leases) == [1, 2]
            info = await server.snapshot()
            (dep,) = [d for d in info["deployments"] if int(d["dseq"]) == result.dseq]
            assert dep["state"] == "active"

            await akash.close(result.dseq)
            assert (await backend.get_deployment(result.dseq, with_status=False)).state == (
                "closed"
            )


async def test_no_certificate_refuses_before_any_spend_and_a_close_right_after_a_create_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = standins(tmp_path, monkeypatch)
    uncertified = identity_for_key_name("uncertified").address
    hasty = identity_for_key_name("hasty").address
    # A clock that does not move by itself: a tx sent in sync mode would stay in the mempool.
    async with SandboxServer(block_time=60) as server:
        async with CliBackend(tools.config(server.base_url, "uncertified")) as backend:
            with pytest.raises(ConfigurationError) as refused:
                await backend.create_deployment(sdl("web"), version="00" * 32, manifest="[]")
        message = refused.value.message
        assert "akash tx cert generate client" in message
        assert "akash tx cert publish client" in message
        # the real CLI's own refusal, for whoever runs it by hand
        code, _, err = await tools.run(
            server.base_url, "akash", "tx", "deployment", "create", str(_write(tmp_path)),
            "--from", "uncertified",
        )  # fmt: skip
        assert code == 1
        assert f'no certificate file found for account "{uncertified}"' in err

        # What Akash's CLI guides have users export: every tx then returns at mempool admission.
        await tools.certify(server.base_url, "hasty")
        await server.advance(1)  # the certificate lands
        monkeypatch.setenv("AKASH_BROADCAST_MODE", "sync")
        async with CliBackend(tools.config(server.base_url, "hasty")) as backend:
            created = await backend.create_deployment(sdl("web"), version="00" * 32, manifest="")
            # a failed deploy closes what it created at once: that close must land
            await backend.close_deployment(created.dseq)
        info = await server.snapshot()
        assert [d for d in info["deployments"] if d["owner"] == uncertified] == []  # nothing spent
        (dep,) = [d for d in info["deployments"] if d["owner"] == hasty]
        assert dep["state"] == "closed"


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.yml"
    path.write_text(sdl("web"), encoding="utf-8")
    return path


async def test_deployment_and_provider_lists_are_read_through_every_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = standins(tmp_path, monkeypatch)
    owner = identity_for_key_name("pager").address
    # A world with more than a page (100) of each, written as the server's state file.
    providers = [{"name": f"p{i:03d}", "region": "us-west"} for i in range(105)]
    providers_file = tmp_path / "providers.json"
    providers_file.write_text(json.dumps(providers), encoding="utf-8")
    world = World(default_providers(), WorldConfig())
    groups = build_from_sdl(sdl("web"), console=False).group_specs
    for dseq in range(1, 102):
        world.create_deployment(owner, groups, bytes(32), 500_000, dseq=dseq)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 1, "world": world.dump()}), encoding="utf-8")
    async with SandboxServer(block_time=60, providers_file=providers_file, state_file=state) as s:
        async with CliBackend(tools.config(s.base_url, "pager")) as backend:
            assert len(await backend.list_deployments()) == 101
            assert len(await backend.list_providers()) == 105
        # the stand-in pages as the chain does
        code, out, _ = await tools.run(
            s.base_url, "akash", "query", "provider", "list", "-o", "json"
        )
        assert code == 0
        page = json.loads(out)
        assert len(page["providers"]) == 100 and page["pagination"]["next_key"]
