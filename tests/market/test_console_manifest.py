"""On Console, the manifest Console built (chain-sdk TypeScript) is the only one providers accept.

``console_differs.yaml`` gives different manifests and versions under Go's rules and Console's.
The sandbox's Console builds it as Console does, and its providers check a received manifest
against the on-chain version as ``provider:manifest/manager.go`` does.
"""

from __future__ import annotations

import hashlib

import pytest

from minds371.errors import ManifestRejected, ValidationError
from minds371_akash import AkashIntegrationProvider, BidPolicy
from minds371_akash.sdl import build_console_manifest, build_manifest, parse_sdl

from .conftest import API_KEY, Recorder, sdl, world
from .test_recovery import lossy

DIFFERS = sdl("console_differs")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_console_creates_with_its_own_manifest_and_providers_refuse_go_s() -> None:
    async with world() as (_net, backend):
        akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=2))
        prepared = akash.prepare(DIFFERS)
        assert prepared.rules == "console"
        created = await akash.create(prepared)
        go = build_manifest(parse_sdl(DIFFERS))
        assert created.manifest == build_console_manifest(DIFFERS).json
        assert (await backend.get_deployment(created.dseq)).version == sha256(created.manifest)
        assert go.version != sha256(created.manifest)

        _rankings, chosen = await akash.wait_for_bids(created.dseq, prepared)
        bids = [r.bid for r in chosen.values()]
        # The Go manifest re-hashes to another version: the provider refuses it.
        with pytest.raises(ManifestRejected, match="manifest version validation failed"):
            await akash.lease(created.dseq, bids, prepared, manifest=go.json)
        deployment = await akash.lease(created.dseq, bids, prepared, manifest=created.manifest)
        ready = await akash.wait_until_ready(created.dseq, prepared, observed=deployment)
        assert all(lease.status is not None and lease.status.ready for lease in ready.leases)
        await akash.close(created.dseq)


async def test_resume_and_re_lease_send_the_journaled_manifest() -> None:
    recorder = Recorder()
    async with world() as (net, backend):
        # A client whose local rules disagree with Console's (here: Go's) still deploys,
        # because it sends the manifest Console returned and journals exactly that.
        backend.sdl_rules = "go"
        akash = AkashIntegrationProvider(
            backend, policy=BidPolicy(enough_bids=2), journal=recorder, on_event=recorder
        )
        result = await akash.deploy(DIFFERS)
        ((_, created),) = [entry for entry in recorder.journal if entry[0] == "created"]
        assert created["manifest"] == build_console_manifest(DIFFERS).json
        assert created["version"] == sha256(created["manifest"])
        assert "manifest.differs" in recorder.types

        lease = result.leases[0]
        net.close_lease(net.owner(API_KEY), result.dseq, lease.id.gseq, lease.id.oseq)
        with pytest.raises(ManifestRejected, match="manifest version validation failed"):
            await akash.relet_group(result.dseq, lease.id.gseq, DIFFERS)
        again = await akash.relet_group(
            result.dseq, lease.id.gseq, DIFFERS, manifest=created["manifest"]
        )
        assert again.leases and again.leases[0].id.provider != lease.id.provider
        await akash.close(result.dseq)


async def test_update_goes_through_put_and_journals_the_manifest_in_force() -> None:
    recorder = Recorder()
    async with world() as (net, backend):
        akash = AkashIntegrationProvider(
            backend, policy=BidPolicy(enough_bids=2), journal=recorder, on_event=recorder
        )
        result = await akash.deploy(DIFFERS)
        newer = DIFFERS.replace("image: nginx:1.27", "image: nginx:1.28")
        updated = await akash.update(result.dseq, newer)
        ((_, entry),) = [e for e in recorder.journal if e[0] == "updated"]
        assert entry["manifest"] == build_console_manifest(newer).json
        assert updated.version == entry["version"] == sha256(entry["manifest"])

        lease = result.leases[0]
        net.close_lease(net.owner(API_KEY), result.dseq, lease.id.gseq, lease.id.oseq)
        again = await akash.relet_group(
            result.dseq, lease.id.gseq, newer, manifest=entry["manifest"]
        )
        assert again.leases[0].status is not None and again.leases[0].status.ready
        await akash.close(result.dseq)


async def test_a_lost_create_is_recovered_by_the_version_console_recorded() -> None:
    async with lossy(1) as (_net, backend):
        akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=2))
        prepared = akash.prepare(DIFFERS)
        created = await akash.create(prepared)
        assert created.recovered
        assert (await backend.get_deployment(created.dseq)).version == prepared.version
        result = await akash.resume(created.dseq, DIFFERS, manifest=created.manifest)
        assert result.leases[0].status is not None and result.leases[0].status.ready
        await akash.close(created.dseq)


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("storage: {size: 1Gi}", "storage: {size: 1073741824}", "/storage/size"),
        ("memory: {size: 512Mi}", "memory: {size: 512Mi, unit: b}", "/memory/unit"),
    ],
)
async def test_console_refuses_before_anything_is_sent(old: str, new: str, path: str) -> None:
    async with world() as (net, backend):
        akash = AkashIntegrationProvider(backend)
        with pytest.raises(ValidationError) as info:
            await akash.deploy(sdl("web").replace(old, new))
        assert info.value.subject == "SDL (Console rules)"
        assert any(issue.path.endswith(path) for issue in info.value.issues), info.value.issues
        assert net.snapshot()["deployments"] == []


async def test_console_accepts_units_go_refuses() -> None:
    async with world() as (_net, backend):
        akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=2))
        result = await akash.deploy(sdl("web").replace("512Mi", "1GB").replace("1Gi", "2gi"))
        assert result.leases[0].status is not None and result.leases[0].status.ready
        await akash.close(result.dseq)
