"""The ``provider-services`` stand-in: gateway operations with a JWT signed by the ``--from`` key.

The provider's gateway URL is its on-chain ``host_uri`` (looked up at ``--node``), as the real
binary does. Only ``--auth-type jwt`` exists in the sandbox.
"""

from __future__ import annotations

import argparse
import json
from contextlib import AbstractContextManager
from typing import Any

import httpx
from httpx_ws import WebSocketDisconnect, WebSocketSession, WebSocketUpgradeError, connect_ws

from minds371_sandbox._cli_standin_common import (
    Node,
    StandinError,
    StandinParser,
    add_common,
    emit,
    key,
    load_sdl,
)
from minds371_sandbox._identity import Identity, issue_jwt

__all__ = ["provider_parser"]

_CLOSE_REASONS = {4000: "no running pods", 4001: "lease not found", 4002: "service unavailable"}


def _auth(args: argparse.Namespace) -> tuple[Identity, dict[str, str]]:
    if getattr(args, "auth_type", "jwt") != "jwt":
        raise StandinError("the sandbox supports --auth-type jwt only")
    identity = key(args)
    token = issue_jwt(identity, ttl=300, leases={"access": "full"})
    return identity, {"authorization": f"Bearer {token}"}


def _gateway(args: argparse.Namespace) -> str:
    return Node(args.node).provider_host(args.provider)


def _fail(response: httpx.Response, what: str) -> StandinError:
    text = response.text.strip()
    try:
        text = str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        pass
    return StandinError(f"{what}: {response.status_code} {text}".rstrip())


def _send_manifest(args: argparse.Namespace) -> int:
    built = load_sdl(args.sdl)
    _, headers = _auth(args)
    url = f"{_gateway(args)}/deployment/{args.dseq}/manifest"
    response = httpx.put(url, content=built.manifest_json, headers=headers, timeout=120)
    if response.status_code != 200:
        emit(args, [{"provider": args.provider, "status": "FAIL", "error": response.text.strip()}])
        raise _fail(response, "submit manifest to some providers has been failed")
    emit(args, [{"provider": args.provider, "status": "PASS"}])
    return 0


def _get(args: argparse.Namespace, path: str) -> Any:
    _, headers = _auth(args)
    response = httpx.get(f"{_gateway(args)}{path}", headers=headers, timeout=30)
    if response.status_code != 200:
        raise _fail(response, "remote server returned")
    return response.json()


def _lease_path(args: argparse.Namespace) -> str:
    return f"/lease/{args.dseq}/{args.gseq}/{args.oseq}"


def _lease_status(args: argparse.Namespace) -> int:
    emit(args, _get(args, f"{_lease_path(args)}/status"))
    return 0


def _service_status(args: argparse.Namespace) -> int:
    emit(args, _get(args, f"{_lease_path(args)}/service/{args.service}/status"))
    return 0


def _get_manifest(args: argparse.Namespace) -> int:
    emit(args, _get(args, f"{_lease_path(args)}/manifest"))
    return 0


def _status(args: argparse.Namespace) -> int:
    response = httpx.get(f"{Node(args.node).provider_host(args.provider)}/status", timeout=30)
    if response.status_code != 200:
        raise _fail(response, "provider status")
    emit(args, response.json())
    return 0


def _stream(args: argparse.Namespace, kind: str) -> int:
    _, headers = _auth(args)
    params: dict[str, str] = {"follow": "true" if args.follow else "false"}
    if args.service:
        params["service"] = args.service
    if kind == "logs" and args.tail is not None:
        params["tail"] = str(args.tail)
    base = _gateway(args).replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    url = str(httpx.URL(f"{base}{_lease_path(args)}/{kind}", params=params))
    try:
        with httpx.Client(timeout=None) as client, _connect(url, client, headers) as ws:
            while True:
                frame = json.loads(ws.receive_text())
                if args.output == "json":
                    print(json.dumps(frame), flush=True)
                elif kind == "logs":
                    print(f"[{frame['name']}] {frame['message']}", flush=True)
                else:
                    obj = frame.get("object", {})
                    line = "\t".join(
                        (frame["type"], frame["reason"], obj.get("name", ""), frame["note"])
                    )
                    print(line, flush=True)
    except WebSocketDisconnect as closed:
        if closed.code in (1000, 1005):
            return 0
        raise StandinError(
            closed.reason or _CLOSE_REASONS.get(closed.code, f"closed {closed.code}")
        ) from closed
    except WebSocketUpgradeError as exc:
        raise _fail(exc.response, "remote server returned") from exc


def _connect(
    url: str, client: httpx.Client, headers: dict[str, str]
) -> AbstractContextManager[WebSocketSession]:
    session: AbstractContextManager[WebSocketSession] = connect_ws(url, client, headers=headers)
    return session


def _lease_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dseq", type=int, required=True)
    parser.add_argument("--gseq", type=int, default=1)
    parser.add_argument("--oseq", type=int, default=1)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--auth-type", default="jwt", choices=["jwt", "mtls"])
    add_common(parser, signer=True)


def provider_parser() -> argparse.ArgumentParser:
    """The ``provider-services`` command tree."""
    root = StandinParser(
        prog="provider-services", description="provider-services (minds371 sandbox stand-in)"
    )
    commands = root.add_subparsers(dest="command", required=True, parser_class=StandinParser)
    send = commands.add_parser("send-manifest")
    send.add_argument("sdl")
    _lease_args(send)
    send.set_defaults(run=_send_manifest)
    for name, run in (("lease-status", _lease_status), ("get-manifest", _get_manifest)):
        parser = commands.add_parser(name)
        _lease_args(parser)
        parser.set_defaults(run=run)
    service = commands.add_parser("service-status")
    _lease_args(service)
    service.add_argument("--service", required=True)
    service.set_defaults(run=_service_status)
    for name, kind in (("lease-logs", "logs"), ("lease-events", "kubeevents")):
        parser = commands.add_parser(name)
        _lease_args(parser)
        parser.add_argument("--service", default="")
        parser.add_argument("-f", "--follow", action="store_true")
        if kind == "logs":
            parser.add_argument("--tail", type=int, default=None)
        parser.set_defaults(run=lambda a, k=kind: _stream(a, k))
    status = commands.add_parser("status")
    status.add_argument("provider")
    add_common(status)
    status.set_defaults(run=_status)
    commands.add_parser("version").set_defaults(run=lambda a: print("v0.10.0-sandbox") or 0)
    return root
