"""The ``provider-services`` stand-in: gateway operations with a JWT signed by the ``--from`` key.

Commands, flags and output follow ``cmd/provider-services/cmd`` of akash-network/provider:

* ``lease-status`` and ``service-status`` take one lease (``--provider`` required) and print the
  provider's answer as indented JSON; they have no ``-o`` flag (``leaseStatus.go``).
* ``send-manifest``, ``lease-logs`` and ``lease-events`` act on every *active* lease of the
  deployment as the chain lists it (``leasesForDeployment`` in ``helpers.go``), whatever
  ``--provider``, ``--gseq`` and ``--oseq`` say; with none they fail with
  ``no active leases found for dseq=N``.
* ``send-manifest`` prints one result per lease (text by default, ``-o json|yaml``) and fails
  with ``submit manifest to some providers has been failed`` when one failed: the provider's
  answer is in the printed result (``manifest.go``), not in the error.
* ``lease-logs`` prints ``[<lease id>][<pod>] <message>`` lines, or with ``-o json`` each entry as
  indented JSON with its ``lease_id``; ``lease-events`` prints indented JSON always.
* ``--keyring-backend`` defaults to ``os``; there is no ``--chain-id``.

The provider's gateway URL is its on-chain ``host_uri`` (looked up at ``--node``), as the real
binary does. Only ``--auth-type jwt`` exists in the sandbox.
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from minds371_sandbox._cli_standin_cobra import Command, Flag
from minds371_sandbox._cli_standin_common import (
    Node,
    StandinError,
    key,
    load_sdl,
    print_indented,
    root_persistent_flags,
)
from minds371_sandbox._identity import Identity, issue_jwt

if TYPE_CHECKING:
    from httpx_ws import WebSocketSession

__all__ = ["provider_command"]

_CLOSE_REASONS = {4000: "no running pods", 4001: "lease not found", 4002: "service unavailable"}


def _auth(args: argparse.Namespace) -> tuple[Identity, dict[str, str]]:
    if args.auth_type != "jwt":
        if args.auth_type == "mtls":
            raise StandinError("the sandbox supports --auth-type jwt only")
        raise StandinError(f"invalid gateway auth type {args.auth_type}. supported are jwt|mtls")
    identity = key(args)
    token = issue_jwt(identity, ttl=300, leases={"access": "full"})
    return identity, {"authorization": f"Bearer {token}"}


def _message(response: httpx.Response) -> str:
    text = response.text.strip()
    try:
        return str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        return text


def _remote_error(response: httpx.Response) -> StandinError:
    """``showErrorToUser``: the provider's message on stderr first, then the error."""
    message = _message(response)
    if message:
        import sys

        print(f"provider error messsage:\n{message}", file=sys.stderr)
    return StandinError(f"remote server returned {response.status_code}")


def _active_leases(args: argparse.Namespace) -> list[dict[str, Any]]:
    """``leasesForDeployment``: the deployment's active leases on chain.

    With ``--provider-url`` it is the lease the flags name.
    """
    owner = key(args).address
    if args.provider_url:
        return [
            {
                "owner": owner,
                "dseq": args.dseq,
                "gseq": args.gseq,
                "oseq": args.oseq,
                "provider": args.provider,
            }
        ]
    listed = Node(args.node).get(
        "/akash/market/v1beta5/leases/list",
        {"filters.owner": owner, "filters.dseq": args.dseq, "filters.state": "active"},
    )["leases"]
    if not listed:
        raise StandinError(f"no active leases found for dseq={args.dseq}")
    return [{**item["lease"]["id"], "dseq": int(item["lease"]["id"]["dseq"])} for item in listed]


def _gateway(args: argparse.Namespace, provider: str) -> str:
    if args.provider_url:
        return str(args.provider_url).rstrip("/")
    return Node(args.node).provider_host(provider)


def _send_manifest(args: argparse.Namespace) -> int:
    if args.output not in ("text", "json", "yaml"):
        raise StandinError(f"invalid output format {args.output}")
    built = load_sdl(args.sdl)
    leases = _active_leases(args)
    _, headers = _auth(args)
    results: list[dict[str, str]] = []
    for lease in leases:
        url = f"{_gateway(args, lease['provider'])}/deployment/{args.dseq}/manifest"
        response = httpx.put(url, content=built.manifest_json, headers=headers, timeout=120)
        result = {"provider": lease["provider"], "status": "PASS"}
        if response.status_code != 200:
            result["status"] = "FAIL"
            result["error"] = f"remote server returned {response.status_code}"
            if message := _message(response):
                result["errorMessage"] = message
        results.append(result)
    if args.output == "json":
        print(json.dumps(results))
    elif args.output == "yaml":
        print(yaml.safe_dump(results, sort_keys=False).rstrip())
    else:
        for result in results:
            print(f"provider: {result['provider']}\n\tstatus:       {result['status']}")
            if "error" in result:
                print(f"\terror:        {result['error']}")
            if "errorMessage" in result:
                print(f"\terrorMessage: {result['errorMessage']}")
    if any(r["status"] == "FAIL" for r in results):
        raise StandinError("submit manifest to some providers has been failed")
    return 0


def _lease_path(lease: dict[str, Any]) -> str:
    return f"/lease/{lease['dseq']}/{lease['gseq']}/{lease['oseq']}"


def _flag_lease(args: argparse.Namespace) -> dict[str, Any]:
    return {"dseq": args.dseq, "gseq": args.gseq, "oseq": args.oseq, "provider": args.provider}


def _get(args: argparse.Namespace, path: str) -> Any:
    _, headers = _auth(args)
    response = httpx.get(f"{_gateway(args, args.provider)}{path}", headers=headers, timeout=30)
    if response.status_code != 200:
        raise _remote_error(response)
    return response.json()


def _lease_status(args: argparse.Namespace) -> int:
    print_indented(_get(args, f"{_lease_path(_flag_lease(args))}/status"))
    return 0


def _service_status(args: argparse.Namespace) -> int:
    lease = _flag_lease(args)
    print_indented(_get(args, f"{_lease_path(lease)}/service/{args.service}/status"))
    return 0


def _get_manifest(args: argparse.Namespace) -> int:
    document = _get(args, f"{_lease_path(_flag_lease(args))}/manifest")
    if args.output == "json":
        print(json.dumps(document))
    else:
        print(yaml.safe_dump(document, sort_keys=False).rstrip())
    return 0


def _status(args: argparse.Namespace) -> int:
    response = httpx.get(f"{_gateway(args, args.address)}/status", timeout=30)
    if response.status_code != 200:
        raise _remote_error(response)
    print_indented(response.json())
    return 0


def _lease_id_text(lease: dict[str, Any]) -> str:
    """``LeaseID.String()``: owner/dseq/gseq/oseq/provider."""
    return f"{lease['owner']}/{lease['dseq']}/{lease['gseq']}/{lease['oseq']}/{lease['provider']}"


def _stream(args: argparse.Namespace, kind: str) -> int:
    if kind == "logs":
        if args.output not in ("text", "json"):
            raise StandinError(f"invalid output format {args.output}. expected text|json")
        if args.tail < -1:
            raise StandinError("tail flag supplied with invalid value. must be >= -1")
    leases = _active_leases(args)
    _, headers = _auth(args)
    out: queue.Queue[tuple[dict[str, Any], dict[str, Any]] | None] = queue.Queue()
    workers = [
        threading.Thread(target=_pump, args=(args, kind, lease, headers, out), daemon=True)
        for lease in leases
    ]
    for worker in workers:
        worker.start()
    running = len(workers)
    while running:
        item = out.get()
        if item is None:
            running -= 1
            continue
        lease, frame = item
        lease_id = {k: lease[k] for k in ("owner", "dseq", "gseq", "oseq", "provider")}
        lease_id["bseq"] = 0
        if kind == "logs" and args.output == "text":
            print(f"[{_lease_id_text(lease)}][{frame['name']}] {frame['message']}", flush=True)
        else:
            print_indented({**frame, "lease_id": lease_id})
    return 0


def _pump(
    args: argparse.Namespace,
    kind: str,
    lease: dict[str, Any],
    headers: dict[str, str],
    out: queue.Queue[tuple[dict[str, Any], dict[str, Any]] | None],
) -> None:
    """One lease's stream into ``out``.

    A lease whose stream fails is skipped, as the real command skips it.
    """
    # Imported here: only the stream commands need the WebSocket client.
    from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError

    params: dict[str, str] = {"follow": "true" if args.follow else "false"}
    if args.service:
        params["service"] = args.service
    if kind == "logs" and args.tail >= 0:
        params["tail"] = str(args.tail)
    path = "logs" if kind == "logs" else "kubeevents"
    base = _gateway(args, lease["provider"])
    base = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    url = str(httpx.URL(f"{base}{_lease_path(lease)}/{path}", params=params))
    try:
        with httpx.Client(timeout=None) as client, _connect(url, client, headers) as ws:
            while True:
                out.put((lease, json.loads(ws.receive_text())))
    except (WebSocketDisconnect, WebSocketUpgradeError, httpx.HTTPError):
        pass
    finally:
        out.put(None)


def _connect(
    url: str, client: httpx.Client, headers: dict[str, str]
) -> AbstractContextManager[WebSocketSession]:
    from httpx_ws import connect_ws

    session: AbstractContextManager[WebSocketSession] = connect_ws(url, client, headers=headers)
    return session


def _operation_flags() -> list[Flag]:
    """``AddProviderOperationFlagsToCmd`` and ``addAuthFlags``."""
    return [Flag("provider-url"), Flag("offline", "bool", False), Flag("auth-type", default="jwt")]


def _manifest_flags() -> list[Flag]:
    """``addCmdFlags`` and ``addManifestFlags``: ``--dseq`` and ``--from`` are required."""
    return [
        Flag("provider"),
        Flag("owner"),
        Flag("dseq", "uint64", 0),
        Flag("home", default=root_persistent_flags()[0].default),
        Flag("from"),
        Flag("keyring-backend", default="os"),
        Flag("sign-mode", default="direct"),
        Flag("gseq", "uint32", 1),
        Flag("oseq", "uint32", 1),
    ]


def provider_command() -> Command:
    """The ``provider-services`` command tree."""
    lease_required = ("dseq", "from", "provider")
    stream_flags = [Flag("service"), Flag("follow", "bool", False, short="f")]
    tail = Flag("tail", "int64", -1, short="t")
    root = Command(
        "provider-services",
        persistent=[Flag("node", default="http://localhost:26657"), *root_persistent_flags()],
    )
    return root.add(
        Command(
            "send-manifest",
            flags=[
                *_operation_flags(),
                *_manifest_flags(),
                Flag("output", default="text", short="o"),
            ],
            args=("sdl",),
            required=("dseq", "from"),
            run=_send_manifest,
        ),
        Command(
            "get-manifest",
            flags=[
                *_operation_flags(),
                *_manifest_flags(),
                Flag("output", default="yaml", short="o"),
            ],
            required=lease_required,
            run=_get_manifest,
        ),
        Command(
            "lease-status",
            flags=[*_operation_flags(), *_manifest_flags()],
            required=lease_required,
            run=_lease_status,
        ),
        Command(
            "service-status",
            flags=[*_operation_flags(), *_manifest_flags(), Flag("service")],
            required=lease_required,
            run=_service_status,
        ),
        Command(
            "lease-logs",
            flags=[
                *_operation_flags(),
                *_manifest_flags(),
                *stream_flags,
                tail,
                Flag("output", default="text", short="o"),
            ],
            required=lease_required,
            run=lambda a: _stream(a, "logs"),
        ),
        Command(
            "lease-events",
            flags=[*_operation_flags(), *_manifest_flags(), *stream_flags, tail],
            required=lease_required,
            run=lambda a: _stream(a, "events"),
        ),
        Command(
            "status",
            flags=[*_operation_flags()[:2], Flag("provider")],
            args=("address",),
            run=_status,
        ),
        Command("version", run=lambda a: print("v0.10.0-sandbox") or 0, arg_rule="any"),
    )
