from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371_sandbox import (
    SandboxServer,
    identity_for_key_name,
    write_standin_binaries,
)
from minds371_sandbox._cli_standin import standin_main
from tests.sandbox.specs import sdl


class Cli:
    """The written executables, run as real processes against a served sandbox."""

    def __init__(self, bins: dict[str, Path], node: str) -> None:
        self.bins = bins
        self.env = {**os.environ, "AKASH_NODE": node}

    async def run(self, command: str, *, ok: bool = True) -> tuple[int, Any, str]:
        program, *args = shlex.split(command)
        result = await anyio.run_process(
            [str(self.bins[program]), *args], env=self.env, check=False
        )
        out, err = result.stdout.decode(), result.stderr.decode()
        if ok:
            assert result.returncode == 0, err
        lines = [line for line in out.splitlines() if line.strip()]
        parsed: Any = out
        if "json" in args:
            parsed = [json.loads(line) for line in lines]
            parsed = parsed[0] if len(parsed) == 1 else parsed
        return result.returncode, parsed, err

    async def json(self, command: str) -> Any:
        return (await self.run(command + " -o json"))[1]


@pytest.mark.slow
async def test_cli_standins_deploy_end_to_end(tmp_path: Path) -> None:
    bins = write_standin_binaries(tmp_path / "bin")
    assert all(os.access(p, os.X_OK) for p in bins.values())
    deploy = tmp_path / "deploy.yml"
    deploy.write_text(sdl(services=("web", "api")), encoding="utf-8")
    owner = identity_for_key_name("alice").address
    # A slow clock driven by hand: every step sees exactly the blocks it needs.
    async with SandboxServer(block_time=60) as server:
        cli = Cli(bins, server.base_url)
        assert (await cli.json("akash keys show alice"))["address"] == owner
        tx = await cli.json(f"akash tx deployment create {deploy} --from alice -y")
        assert tx["code"] == 0
        created = next(e for e in tx["events"] if e["type"].endswith("EventDeploymentCreated"))
        dseq = json.loads(created["attributes"][0]["value"])["dseq"]
        await server.advance(2)
        bids = await cli.json(
            f"akash query market bid list --owner {owner} --dseq {dseq} --state open"
        )
        assert len(bids["bids"]) == 5  # no Console auditor filter here: every provider bids
        best = min(bids["bids"], key=lambda b: float(b["bid"]["price"]["amount"]))["bid"]["id"]
        provider = best["provider"]
        await cli.json(
            f"akash tx market lease create --dseq {dseq} --provider {provider} --from alice"
        )
        lease_args = f"--dseq {dseq} --provider {provider} --from alice"
        code, _, err = await cli.run(
            f"provider-services send-manifest {deploy} {lease_args}", ok=False
        )
        assert code == 1 and "404 no lease for deployment" in err  # not seen by the provider yet
        await server.advance(1)
        sent = await cli.json(f"provider-services send-manifest {deploy} {lease_args}")
        assert sent == [{"provider": provider, "status": "PASS"}]
        status = await cli.json(f"provider-services lease-status {lease_args}")
        assert {s["available"] for s in status["services"].values()} == {0}  # pulling
        await server.advance(2)
        status = await cli.json(f"provider-services lease-status {lease_args}")
        assert {name: s["available"] for name, s in status["services"].items()} == {
            "web": 1,
            "api": 1,
        }
        logs = await cli.json(f"provider-services lease-logs {lease_args} --service api")
        assert logs and all(
            f["name"].startswith("api-") for f in (logs if isinstance(logs, list) else [logs])
        )
        events = await cli.json(f"provider-services lease-events {lease_args}")
        assert [e["reason"] for e in events].count("Started") == 2
        leases = await cli.json(f"akash query market lease list --owner {owner} --dseq {dseq}")
        assert leases["leases"][0]["lease"]["state"] == "active"
        await cli.json(f"akash tx escrow deposit deployment 1000000uact --dseq {dseq} --from alice")
        await cli.json(f"akash tx deployment close --dseq {dseq} --from alice")
        info = await cli.json(f"akash query deployment get --owner {owner} --dseq {dseq}")
        assert info["deployment"]["state"] == "closed"
        deposits = [d["balance"]["amount"] for d in info["escrow_account"]["state"]["deposits"]]
        assert deposits == ["500000.000000000000000000", "1000000.000000000000000000"]


def run_inline(
    capsys: pytest.CaptureFixture[str], program: str, *args: str
) -> tuple[int, str, str]:
    """The stand-in's own entry point, in this process (the executables are proven above)."""
    code = standin_main(program, list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_cli_standin_errors_surface_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "deploy.yml"
    good.write_text(sdl(), encoding="utf-8")
    uakt = tmp_path / "uakt.yml"
    uakt.write_text(sdl().replace("denom: uact", "denom: uakt"), encoding="utf-8")
    code, _, err = run_inline(capsys, "akash", "tx", "deployment", "frobnicate")
    assert code == 1 and "invalid choice" in err
    code, _, err = run_inline(
        capsys, "akash", "tx", "deployment", "create", str(good), "--from", "bob"
    )
    assert code == 1 and "AKASH_NODE" in err
    async with SandboxServer(block_time=0.05) as server:
        node = ("--node", server.base_url)
        code, out, err = run_inline(
            capsys,
            "akash",
            "tx",
            "deployment",
            "create",
            str(uakt),
            "--from",
            "bob",
            "-o",
            "json",
            *node,
        )
        assert code == 1 and json.loads(out)["code"] != 0 and "denom" in err
        code, _, err = run_inline(
            capsys,
            "akash",
            "tx",
            "deployment",
            "create",
            str(good),
            "--from",
            "bob",
            "--deposit",
            "5uact",
            *node,
        )
        assert code == 1 and "Deposit too low" in err
        code, _, err = run_inline(
            capsys,
            "akash",
            "tx",
            "deployment",
            "create",
            str(tmp_path / "missing.yml"),
            "--from",
            "bob",
            *node,
        )
        assert code == 1 and "missing.yml" in err
        code, _, err = run_inline(capsys, "akash", "tx", "deployment", "create", str(good), *node)
        assert code == 1 and '"from"' in err
        code, _, err = run_inline(
            capsys,
            "akash",
            "tx",
            "deployment",
            "create",
            str(good),
            "--from",
            "bob",
            "--dseq",
            "77",
            *node,
        )
        assert code == 0, err
        await server.advance(2)
        owner = identity_for_key_name("bob").address
        _, out, _ = run_inline(
            capsys,
            "akash",
            "query",
            "market",
            "bid",
            "list",
            "--owner",
            owner,
            "--dseq",
            "77",
            "-o",
            "json",
            *node,
        )
        provider = json.loads(out)["bids"][0]["bid"]["id"]["provider"]
        code, _, err = run_inline(
            capsys,
            "akash",
            "tx",
            "market",
            "lease",
            "create",
            "--dseq",
            "77",
            "--provider",
            provider,
            "--from",
            "bob",
            *node,
        )
        assert code == 0, err
        await server.advance(1)
        changed = tmp_path / "changed.yml"
        changed.write_text(sdl(image="nginx:1.26"), encoding="utf-8")
        code, out, err = run_inline(
            capsys,
            "provider-services",
            "send-manifest",
            str(changed),
            "--dseq",
            "77",
            "--provider",
            provider,
            "--from",
            "bob",
            "-o",
            "json",
            *node,
        )
        assert code == 1 and "manifest version validation failed" in err
        assert json.loads(out)[0]["status"] == "FAIL"
        code, _, err = run_inline(
            capsys,
            "provider-services",
            "lease-status",
            "--dseq",
            "77",
            "--provider",
            provider,
            "--from",
            "mallory",
            *node,
        )
        assert code == 1 and "401 JWT is invalid" in err  # mallory has no on-chain key
        code, _, err = run_inline(
            capsys,
            "provider-services",
            "lease-logs",
            "--dseq",
            "77",
            "--provider",
            provider,
            "--from",
            "bob",
            *node,
        )
        assert code == 1 and "no running pods" in err  # no manifest accepted yet
        code, _, err = run_inline(
            capsys,
            "provider-services",
            "send-manifest",
            str(good),
            "--dseq",
            "77",
            "--provider",
            provider,
            "--from",
            "bob",
            "--auth-type",
            "mtls",
            *node,
        )
        assert code == 1 and "jwt only" in err
        code, out, _ = run_inline(
            capsys, "provider-services", "status", provider, "-o", "json", *node
        )
        assert code == 0 and json.loads(out)["address"] == provider
        code, out, _ = run_inline(capsys, "akash", "query", "provider", "list", *node)
        assert code == 0 and "host_uri:" in out  # the real CLI's default output is YAML
