from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from minds371_sandbox import SandboxServer, identity_for_key_name
from minds371_sandbox._cli_standin import standin_main
from tests.sandbox.specs import sdl
from tests.standins import Standins, standins


def json_values(text: str) -> list[Any]:
    """Every JSON value in ``text``, one per line or indented over many."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, end = decoder.raw_decode(text, at)
        values.append(value)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return values


class Cli:
    """The written executables, run as real processes against a served sandbox."""

    def __init__(self, tools: Standins, node: str) -> None:
        self.tools = tools
        self.node = node

    async def run(self, command: str, *, ok: bool = True) -> tuple[int, str, str]:
        program, *args = shlex.split(command)
        code, out, err = await self.tools.run(self.node, program, *args)
        if ok:
            assert code == 0, err
        return code, out, err

    async def json(self, command: str) -> Any:
        """The one JSON value the command prints (indented or not)."""
        (value,) = json_values((await self.run(command))[1])
        return value

    async def values(self, command: str) -> list[Any]:
        """Every JSON value the command prints (a stream of indented values)."""
        return json_values((await self.run(command))[1])


@pytest.mark.slow
async def test_cli_standins_deploy_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = standins(tmp_path, monkeypatch)
    assert all(os.access(p, os.X_OK) for p in tools.bins.values())
    deploy = tmp_path / "deploy.yml"
    deploy.write_text(sdl(services=("web", "api")), encoding="utf-8")
    owner = identity_for_key_name("alice").address
    # A slow clock driven by hand: every step sees exactly the blocks it needs.
    async with SandboxServer(block_time=60) as server:
        cli = Cli(tools, server.base_url)
        assert (await cli.json("akash keys show alice --output json"))["address"] == owner
        await tools.certify(server.base_url, "alice")
        tx = await cli.json(f"akash tx deployment create {deploy} --from alice -y")
        assert tx["code"] == 0
        created = next(e for e in tx["events"] if e["type"].endswith("EventDeploymentCreated"))
        dseq = json.loads(created["attributes"][0]["value"])["dseq"]
        await server.advance(2)
        bids = await cli.json(
            f"akash query market bid list --owner {owner} --dseq {dseq} --state open -o json"
        )
        assert len(bids["bids"]) == 5  # no Console auditor filter here: every provider bids
        best = min(bids["bids"], key=lambda b: float(b["bid"]["price"]["amount"]))["bid"]["id"]
        provider = best["provider"]
        await cli.json(
            f"akash tx market lease create --dseq {dseq} --provider {provider} --from alice"
        )
        lease_args = f"--dseq {dseq} --provider {provider} --from alice"
        code, out, err = await cli.run(
            f"provider-services send-manifest {deploy} {lease_args} -o json", ok=False
        )
        # not seen by the provider yet: its answer is on stdout, the command's error on stderr
        assert code == 1 and "submit manifest to some providers has been failed" in err
        assert json.loads(out) == [
            {
                "provider": provider,
                "status": "FAIL",
                "error": "remote server returned 404",
                "errorMessage": "no lease for deployment",
            }
        ]
        await server.advance(1)
        sent = await cli.json(f"provider-services send-manifest {deploy} {lease_args} -o json")
        assert sent == [{"provider": provider, "status": "PASS"}]
        # lease-status has no -o flag and prints indented JSON
        code, out, _ = await cli.run(f"provider-services lease-status {lease_args}")
        assert out.startswith("{\n  ")
        assert {s["available"] for s in json.loads(out)["services"].values()} == {0}  # pulling
        await server.advance(2)
        status = await cli.json(f"provider-services lease-status {lease_args}")
        assert {name: s["available"] for name, s in status["services"].items()} == {
            "web": 1,
            "api": 1,
        }
        logs = await cli.values(f"provider-services lease-logs {lease_args} --service api -o json")
        assert logs and all(f["name"].startswith("api-") for f in logs)
        assert {f["lease_id"]["provider"] for f in logs} == {provider}
        _, text, _ = await cli.run(f"provider-services lease-logs {lease_args} --service api")
        assert text.startswith(f"[{owner}/{dseq}/1/1/{provider}][api-")
        events = await cli.values(f"provider-services lease-events {lease_args}")
        assert [e["reason"] for e in events].count("Started") == 2
        leases = await cli.json(
            f"akash query market lease list --owner {owner} --dseq {dseq} -o json"
        )
        assert leases["leases"][0]["lease"]["state"] == "active"
        await cli.json(f"akash tx escrow deposit deployment 1000000uact --dseq {dseq} --from alice")
        await cli.json(f"akash tx deployment close --dseq {dseq} --from alice")
        info = await cli.json(f"akash query deployment get --owner {owner} --dseq {dseq} -o json")
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


async def test_cli_standin_errors_are_cobras_and_the_chains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = standins(tmp_path, monkeypatch)
    good = tmp_path / "deploy.yml"
    good.write_text(sdl(), encoding="utf-8")
    uakt = tmp_path / "uakt.yml"
    uakt.write_text(sdl().replace("denom: uact", "denom: uakt"), encoding="utf-8")

    def run(program: str, *args: str) -> tuple[int, str, str]:
        return run_inline(capsys, program, *args)

    # cobra's own words for what the real commands do not take
    code, _, err = run("akash", "tx", "deployment", "frobnicate")
    assert (code, err) == (1, 'Error: unknown command "frobnicate" for "akash tx deployment"\n')
    code, _, err = run("akash", "tx", "deployment", "create")
    assert (code, err) == (1, "Error: accepts 1 arg(s), received 0\n")
    code, _, err = run("akash", "query", "deployment", "list", "--keyring-backend", "test")
    assert (code, err) == (1, "Error: unknown flag: --keyring-backend\n")
    lease: tuple[str, ...] = ("--dseq", "7", "--provider", "akash1p", "--from", "bob")
    code, _, err = run("provider-services", "lease-status", *lease, "-o", "json")
    assert (code, err) == (1, "Error: unknown shorthand flag: 'o' in -o\n")
    code, _, err = run("provider-services", "lease-events", *lease, "-o", "json")
    assert (code, err) == (1, "Error: unknown shorthand flag: 'o' in -o\n")
    code, _, err = run("provider-services", "lease-status", *lease, "--chain-id", "x")
    assert (code, err) == (1, "Error: unknown flag: --chain-id\n")
    code, _, err = run("provider-services", "lease-status")
    assert err == 'Error: required flag(s) "dseq", "from", "provider" not set\n'
    code, _, err = run("akash", "tx", "deployment", "close", "--dseq", "x", "--from", "bob")
    assert err == (
        'Error: invalid argument "x" for "--dseq" flag: '
        'strconv.ParseUint: parsing "x": invalid syntax\n'
    )
    async with SandboxServer(block_time=0.05) as server:
        node = ("--node", server.base_url)
        # the real default keyring is os: the sandbox's keys are in the test keyring
        code, _, err = run("akash", "keys", "show", "bob", "-a")
        assert (code, err) == (1, "Error: bob.info: key not found\n")
        monkeypatch.setenv("AKASH_KEYRING_BACKEND", "test")
        owner = identity_for_key_name("bob").address
        code, out, _ = run("akash", "keys", "show", "bob", "-a")
        assert (code, out) == (0, owner + "\n")
        # tx deployment create needs a client certificate, as a file and on chain
        code, _, err = run("akash", "tx", "deployment", "create", str(good), "--from", "bob", *node)
        assert code == 1 and err == (
            f'Error: no certificate file found for account "{owner}".\n'
            "consider creating it as certificate required to submit manifest\n"
        )
        assert run("akash", "tx", "cert", "generate", "client", "--from", "bob")[0] == 0
        code, _, err = run("akash", "tx", "cert", "generate", "client", "--from", "bob")
        assert (code, err) == (1, "Error: certificate error: cannot overwrite certificate\n")
        code, _, err = run("akash", "tx", "deployment", "create", str(good), "--from", "bob", *node)
        assert "certificate has not been committed to blockchain" in err
        assert run("akash", "tx", "cert", "publish", "client", "--from", "bob", *node)[0] == 0
        code, out, err = run(
            "akash", "tx", "deployment", "create", str(uakt), "--from", "bob", *node
        )
        assert code == 1 and json.loads(out)["code"] != 0 and "denom" in err
        code, _, err = run(
            "akash", "tx", "deployment", "create", str(good), "--from", "bob",
            "--deposit", "5uact", *node,
        )  # fmt: skip
        assert code == 1 and "Deposit too low" in err
        missing = str(tmp_path / "missing.yml")
        code, _, err = run("akash", "tx", "deployment", "create", missing, "--from", "bob", *node)
        assert code == 1 and "missing.yml" in err
        code, _, err = run(
            "akash", "tx", "deployment", "create", str(good), "--from", "bob", "--dseq", "77",
            *node,
        )  # fmt: skip
        assert code == 0, err
        await server.advance(2)
        _, out, _ = run(
            "akash", "query", "market", "bid", "list", "--owner", owner, "--dseq", "77",
            "-o", "json", *node,
        )  # fmt: skip
        provider = json.loads(out)["bids"][0]["bid"]["id"]["provider"]
        lease = ("--dseq", "77", "--provider", provider, "--from", "bob", *node)
        code, _, err = run("akash", "tx", "market", "lease", "create", *lease)
        assert code == 0, err
        await server.advance(1)
        changed = tmp_path / "changed.yml"
        changed.write_text(sdl(image="nginx:1.26"), encoding="utf-8")
        bigger = tmp_path / "bigger.yml"
        bigger.write_text(sdl(count=2), encoding="utf-8")
        update = ("tx", "deployment", "update")
        code, _, err = run("akash", *update, str(bigger), "--dseq", "77", "--from", "bob", *node)
        assert (code, err) == (
            1,
            "Error: deployment update failed: groups are different than existing deployment, "
            "you cannot update groups\n",
        )
        code, out, err = run("provider-services", "send-manifest", str(changed), *lease)
        # text output by default; the provider's answer is there, not in the error
        assert code == 1 and err == "Error: submit manifest to some providers has been failed\n"
        assert "status:       FAIL" in out and "manifest version validation failed" in out
        code, _, err = run(
            "provider-services", "lease-status", "--dseq", "77", "--provider", provider,
            "--from", "mallory", *node,
        )  # fmt: skip
        assert code == 1 and "JWT is invalid" in err  # mallory has no on-chain key
        assert err.endswith("Error: remote server returned 401\n")
        code, out, err = run("provider-services", "lease-logs", *lease)
        assert (code, out) == (0, "")  # no running pods: the stream is skipped, as the real one
        code, _, err = run(
            "provider-services", "send-manifest", str(good), *lease, "--auth-type", "mtls"
        )
        assert code == 1 and "jwt only" in err
        code, out, _ = run("provider-services", "status", provider, *node)
        assert code == 0 and json.loads(out)["address"] == provider
        code, out, _ = run("akash", "query", "provider", "list", *node)
        assert code == 0 and "host_uri:" in out  # the real CLI's default output is YAML
    assert tools.home.joinpath(f"{owner}.pem").exists()


async def test_sync_broadcast_lands_on_the_next_block_and_a_second_tx_mismatches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    standins(tmp_path, monkeypatch)
    monkeypatch.setenv("AKASH_KEYRING_BACKEND", "test")
    good = tmp_path / "deploy.yml"
    good.write_text(sdl(), encoding="utf-8")
    owner = identity_for_key_name("carol").address
    async with SandboxServer(block_time=60) as server:
        monkeypatch.setenv("AKASH_NODE", server.base_url)
        assert (
            run_inline(capsys, "akash", "tx", "cert", "generate", "client", "--from", "carol")[0]
            == 0
        )
        assert (
            run_inline(capsys, "akash", "tx", "cert", "publish", "client", "--from", "carol")[0]
            == 0
        )
        monkeypatch.setenv("AKASH_BROADCAST_MODE", "sync")
        create = ("tx", "deployment", "create", str(good), "--from", "carol", "--dseq", "9")
        code, out, _ = run_inline(capsys, "akash", *create)
        admitted = json.loads(out)
        assert (code, admitted["code"], admitted["height"]) == (0, 0, "0")  # in the mempool
        get = ("query", "deployment", "get", "--owner", owner, "--dseq", "9", "-o", "json")
        code, _, err = run_inline(capsys, "akash", *get)
        assert code == 1 and "deployment not found" in err  # not on chain yet
        # a second tx from the account while the first is pending: the real client prints it
        # with its code and exits 0
        close = ("tx", "deployment", "close", "--from", "carol", "--dseq", "9")
        code, out, _ = run_inline(capsys, "akash", *close)
        refused = json.loads(out)
        assert (code, refused["code"], refused["codespace"]) == (0, 32, "sdk")
        assert refused["raw_log"] == (
            "account sequence mismatch, expected 2, got 1: incorrect account sequence"
        )
        await server.advance(1)  # the create lands
        code, out, _ = run_inline(capsys, "akash", *get)
        assert code == 0 and json.loads(out)["deployment"]["state"] == "active"
        # --broadcast-mode block (given explicitly) waits for the result, whatever the env says
        code, out, _ = run_inline(capsys, "akash", *close, "--broadcast-mode", "block")
        closed = json.loads(out)
        assert (code, closed["code"]) == (0, 0) and closed["height"] != "0"
        code, _, err = run_inline(capsys, "akash", *close, "-b", "fast")
        assert (code, err) == (
            1,
            'Error: invalid broadcast mode "fast". expected async|sync|block\n',
        )


async def test_lease_list_filters_group_one_and_order_one_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = standins(tmp_path, monkeypatch)
    monkeypatch.setenv("AKASH_KEYRING_BACKEND", "test")
    two = tmp_path / "two.yml"
    two.write_text(TWO_GROUPS, encoding="utf-8")
    owner = identity_for_key_name("dave").address
    async with SandboxServer(block_time=60) as server:
        monkeypatch.setenv("AKASH_NODE", server.base_url)
        await tools.certify(server.base_url, "dave")
        create = ("tx", "deployment", "create", str(two), "--from", "dave", "--dseq", "5")
        assert run_inline(capsys, "akash", *create)[0] == 0
        await server.advance(2)
        bids = ("query", "market", "bid", "list", "--owner", owner, "--dseq", "5", "-o", "json")
        _, out, _ = run_inline(capsys, "akash", *bids)
        assert {b["bid"]["id"]["gseq"] for b in json.loads(out)["bids"]} == {1}  # gseq 1 only
        _, out, _ = run_inline(capsys, "akash", *bids, "--gseq", "0", "--oseq", "0")
        chosen = {b["bid"]["id"]["gseq"]: b["bid"]["id"] for b in json.loads(out)["bids"]}
        for gseq, bid in sorted(chosen.items()):
            lease = (
                "--dseq", "5", "--gseq", str(gseq), "--provider", bid["provider"], "--from", "dave",
            )  # fmt: skip
            assert run_inline(capsys, "akash", "tx", "market", "lease", "create", *lease)[0] == 0
        leases = ("query", "market", "lease", "list", "--owner", owner, "--dseq", "5", "-o", "json")
        _, out, _ = run_inline(capsys, "akash", *leases)
        assert [x["lease"]["id"]["gseq"] for x in json.loads(out)["leases"]] == [1]
        _, out, _ = run_inline(capsys, "akash", *leases, "--gseq", "0", "--oseq", "0")
        assert sorted(x["lease"]["id"]["gseq"] for x in json.loads(out)["leases"]) == [1, 2]


TWO_GROUPS = """\
version: "2.0"
services:
  web:
    image: nginx:1.27
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.5}
        memory: {size: 512Mi}
        storage: {size: 1Gi}
  placement:
    a:
      pricing:
        web: {denom: uact, amount: 1000}
    b:
      pricing:
        web: {denom: uact, amount: 1000}
deployment:
  web:
    a: {profile: web, count: 1}
    b: {profile: web, count: 1}
"""
