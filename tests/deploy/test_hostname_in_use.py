"""A host another tenant's workload holds on the provider: refused at the manifest, diagnosed.

``provider:manifest/manager.go`` ``checkHostnamesForManifest`` and ``provider:cluster/
hostname.go`` ``CanReserveHostnames``: a host is the provider's across tenants while a lease
that asked for it runs; the same owner may use it again. The provider answers 500.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minds371.cli import main
from tests.deploy.conftest import Sandbox, web_request, write_request


def test_a_host_held_by_another_tenant_is_refused_and_nothing_is_left_running(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    mine = write_request(tmp_path, web_request("first", domain="shared.example.com"))
    assert main(["deploy", str(mine), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # Another tenant (another API key, so another owner) asks the same provider for the host.
    sandbox.add_api_key("tenant-b")
    monkeypatch.setenv("MINDS371_CONSOLE_URL", sandbox.url)
    monkeypatch.setenv("MINDS371_CONSOLE_API_KEY", "tenant-b")
    before = sandbox.active_dseqs()
    theirs = {**web_request("second", domain="shared.example.com"), "network": "console"}
    assert main(["deploy", str(write_request(tmp_path, theirs, "b.json")), "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)
    assert 'hostname not allowed: host "shared.example.com" in use' in failed["error"]["message"]
    diagnosis = failed["error"]["details"]["diagnosis"]
    assert diagnosis["kind"] == "hostname_in_use"
    assert sandbox.active_dseqs() == before  # the refused deployment was closed
    # The owner itself may use its host again (a replacement deployment does).
    monkeypatch.delenv("MINDS371_CONSOLE_URL")
    again = write_request(tmp_path, web_request("first", domain="shared.example.com"), "c.json")
    assert main(["deploy", str(again), "--new", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    for dseq in (first["dseq"], second["dseq"]):
        assert main(["close", dseq]) == 0
