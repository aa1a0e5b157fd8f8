from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from minds371_akash.market.sandbox import (
    SandboxServer,
    identity_for_key_name,
    write_standin_binaries,
)
from minds371_akash.market.sandbox._cli_standin import standin_main

from tests.sandbox.specs import sdl


class Cli:
    def __init__(self, bins: dict[str, Path], node: str) -> None:
        self.bins = bins
        self.env = {**os.environ, "AKASH_NODE": node}

    async def run(self, program: str, *args: str, ok: bool = True) -> tuple[int, Any, str]:
        result = await anyio.run_process(
            [str(self.bins[program]), *args], env=self.env, check=False
        )
        out, err = result.stdout.decode(), result.stderr.decode()
        if ok:
            assert result.returncode == 0, err
        lines = [line for line in out.splitlines() if line.strip()]
        parsed: Any = None
        if "json" not in args:
            parsed = out
        elif len(lines) == 1:
            parsed = json.loads(lines[0])
        elif lines:
            parsed = [json.loads(line) for line in lines]
        return result.returncode, parsed, err


@pytest.mark.slow
async def test_cli_standins_deploy_end_to_end(tmp_path: Path) -> None:
    bins = write_standin_binaries(tmp_path / "bin")
    assert all(os.access(p, os.X_OK) for p in bins.values())
    deploy = tmp_path / "deploy.yml"
    deploy.write_text(sdl(services=("web", "api")), encoding="utf-8")
    owner = identity_for_key_name("alice").address
    async with SandboxServer(block_time=0.05) as server:
        cli = Cli(bins, server.base_url)
        _, out, _ = await cli.run("akash", "keys", "show", "alice", "-o", "json")
        assert out["address"] == owner
        _, tx, _ = await cli.run(
            "akash",
            "tx",
            "deployment",
            "create",
            str(deploy),
            "--from",
            "alice",
            "-o",
            "json",
            "-y",
        )
        assert tx["code"] == 0
        created = next(e for e in tx["events"] if e["type"].endswith("EventDeploymentCreated"))
        dseq = json.loads(created["attributes"][0]["value"])["dseq"]
        with anyio.fail_after(10):
            while True:
                _, bids, _ = await cli.run(
                    "akash",
                    "query",
                    "market",
                    "bid",
                    "list",
                    "--owner",
                    owner,
                    "--dseq",
                    dseq,
                    "--state",
                    "open",
                    "-o",
                    "json",
                )
                if len(bids["bids"]) >= 3:
                    break
                await anyio.sleep(0.05)
        # Without Console's auditor filter, unaudited providers bid too; take the cheapest.
        best = min(bids["bids"], key=lambda b: float(b["bid"]["price"]["amount"]))["bid"]["id"][
            "provider"
        ]
        await cli.run(
            "akash",
            "tx",
            "market",
            "lease",
            "create",
            "--dseq",
            dseq,
            "--provider",
            best,
            "--from",
            "alice",
            "-o",
            "json",
        )
        with anyio.fail_after(10):
            while True:
                code, sent, err = await cli.run(
                    "provider-services",
                    "send-manifest",
                    str(deploy),
                    "--dseq",
                    dseq,
                    "--provider",
                    best,
                    "--from",
                    "alice",
                    "-o",
                    "json",
                    ok=False,
                )
                if code == 0:
                    break
                assert "no lease for deployment" in err  # the provider has not seen the lease yet
                await anyio.sleep(0.05)
        assert sent == [{"provider": best, "status": "PASS"}]
        with anyio.fail_after(10):
            while True:
                _, status, _ = await cli.run(
                    "provider-services",
                    "lease-status",
                    "--dseq",
                    dseq,
                    "--provider",
                    best,
                    "--from",
                    "alice",
                    "-o",
                    "json",
                )
                if all(s["available"] == s["total"] for s in status["services"].values()):
                    break
                await anyio.sleep(0.05)
        assert set(status["services"]) == {"web", "api"}
        _, logs, _ = await cli.run(
            "provider-services",
            "lease-logs",
            "--dseq",
            dseq,
            "--provider",
            best,
            "--from",
            "alice",
            "--service",
            "api",
            "-o",
            "json",
        )
        assert logs and all(
            frame["name"].startswith("api-")
            for frame in (logs if isinstance(logs, list) else [logs])
        )
        _, events, _ = await cli.run(
            "provider-services",
            "lease-events",
            "--dseq",
            dseq,
            "--provider",
            best,
            "--from",
            "alice",
            "-o",
            "json",
        )
        assert [e["reason"] for e in events].count("Started") == 2
        _, leases, _ = await cli.run(
            "akash",
            "query",
            "market",
            "lease",
            "list",
            "--owner",
            owner,
            "--dseq",
            dseq,
            "-o",
            "json",
        )
        assert leases["leases"][0]["lease"]["state"] == "active"
        await cli.run(
            "akash",
            "tx",
            "escrow",
            "deposit",
            "deployment",
            "1000000uact",
            "--dseq",
            dseq,
            "--from",
            "alice",
            "-o",
            "json",
        )
        await cli.run(
            "akash", "tx", "deployment", "close", "--dseq", dseq, "--from", "alice", "-o", "json"
        )
        _, info, _ = await cli.run(
            "akash", "query", "deployment", "get", "--owner", owner, "--dseq", dseq, "-o", "json"
        )
        assert info["deployment"]["state"] == "closed"
        assert [
            d["amount"] for d in (e["balance"] for e in info["escrow_account"]["state"]["deposits"])
        ] == [
            "500000.000000000000000000",
            "1000000.000000000000000000",
        ]


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
