"""The ``akash`` stand-in: the chain-sdk CLI's commands (§3) against a sandbox at ``--node``.

Each command has exactly the real command's flags (chain-sdk ``go/cli``: ``deployment_tx.go``,
``market_tx.go``, ``escrow_tx.go``, ``cert_tx.go``, ``deployment_query.go``,
``market_query.go``, ``provider_query.go``, ``cert_query.go``, ``keys_show.go``; flag sets in
``go/cli/flags``). Transactions print the ``tx_response`` JSON (with typed events carrying the
ids) and exit 1 with ``Error: <raw_log>`` on stderr when the chain refuses them (as ``--gas auto``
simulation does); an admission refusal (sequence mismatch) is printed with its code and exit 0,
as the real client does. Queries print the LCD JSON shapes, a page at a time.

Broadcast mode is ``block`` unless ``--broadcast-mode`` (or ``AKASH_BROADCAST_MODE``) says
otherwise (``go/cli/root.go`` starts the client context in block mode); ``sync`` returns once
the tx is in the mempool.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import time
from typing import Any

from minds371_sandbox._cli_standin_cobra import Command, Flag
from minds371_sandbox._cli_standin_common import (
    Node,
    StandinError,
    emit,
    home,
    key,
    keyring_flags,
    load_sdl,
    page_params,
    pagination_flags,
    query_flags,
    root_persistent_flags,
    tx_flags,
)

__all__ = ["akash_command"]

_COIN = re.compile(r"^(\d+)([a-z][a-z0-9/]*)$")
_SEQUENCE_MISMATCH = 32
_MODES = ("async", "sync", "block")


def _coin(text: str) -> dict[str, str]:
    match = _COIN.match(text.strip())
    if not match:
        raise StandinError(f"invalid decimal coin expression: {text}")
    return {"denom": match.group(2), "amount": match.group(1)}


def _mode(args: argparse.Namespace) -> str:
    """Block unless the flag (or its environment variable) was given."""
    if "broadcast-mode" not in args.changed:
        return "block"
    mode = str(args.broadcast_mode)
    if mode not in _MODES:
        raise StandinError(f'invalid broadcast mode "{mode}". expected async|sync|block')
    return mode


def _tx(args: argparse.Namespace, messages: list[dict[str, Any]]) -> int:
    identity = key(args)
    mode = _mode(args)
    result = Node(args.node).broadcast(identity, messages, mode=mode)
    emit(args, result)
    code = result.get("code", 0)
    if code not in (0, _SEQUENCE_MISMATCH):
        print(f"Error: {result.get('raw_log', 'tx failed')}", file=sys.stderr)
        return 1
    return 0


def _sources(args: argparse.Namespace) -> list[str]:
    sources = list(args.deposit_sources)
    for source in sources:
        if source not in ("grant", "balance"):
            raise StandinError(f'invalid deposit-source "{source}"')
    if len(set(sources)) != len(sources):
        raise StandinError(f'duplicated deposit source "{sources[0]}"')
    return sources


def _certificate_path(args: argparse.Namespace, address: str) -> Any:
    return home(args) / f"{address}.pem"


def _require_certificate(args: argparse.Namespace, node: Node, address: str) -> None:
    """``LoadAndQueryCertificateForAccount`` (chain-sdk ``go/util/tls/utils.go``)."""
    from minds371_sandbox._chain_tx import certificate_serial

    path = _certificate_path(args, address)
    if not path.exists():
        raise StandinError(
            f'no certificate file found for account "{address}".\n'
            "consider creating it as certificate required to submit manifest"
        )
    serial = certificate_serial(path.read_bytes())
    if serial is None:
        raise StandinError("certificate error: certificate not found in PEM")
    found = node.get(
        "/akash/cert/v1/certificates/list", {"filter.owner": address, "filter.serial": serial}
    )["certificates"]
    if not found:
        raise StandinError("certificate error: certificate has not been committed to blockchain")
    if found[0]["certificate"]["state"] != "valid":
        raise StandinError("certificate error: certificate is not valid")


def _deployment_create(args: argparse.Namespace) -> int:
    node = Node(args.node)
    owner = key(args).address
    _require_certificate(args, node, owner)
    built = load_sdl(args.sdl)
    dseq = args.dseq if args.dseq else node.height()
    deposit = (
        _coin(args.deposit)
        if args.deposit
        else {
            "denom": "uact",
            "amount": node.get("/akash/deployment/v1beta4/params")["params"]["min_deposits"][0][
                "amount"
            ],
        }
    )
    message = {
        "@type": "/akash.deployment.v1beta4.MsgCreateDeployment",
        "id": {"owner": args.owner or owner, "dseq": str(dseq)},
        "groups": built.group_specs,
        "hash": base64.b64encode(built.version).decode(),
        "deposit": {"amount": deposit, "sources": _sources(args)},
    }
    return _tx(args, [message])


def _deployment_update(args: argparse.Namespace) -> int:
    """Only the manifest may change: the groups must equal the deployment's on chain."""
    from minds371_sandbox._chain import lcd_group_spec

    owner = args.owner or key(args).address
    built = load_sdl(args.sdl)
    info = Node(args.node).get(
        "/akash/deployment/v1beta4/deployments/info", {"id.owner": owner, "id.dseq": args.dseq}
    )
    existing = [group["group_spec"] for group in info["groups"]]
    if existing != [lcd_group_spec(spec) for spec in built.group_specs]:
        raise StandinError(
            "deployment update failed: groups are different than existing deployment, "
            "you cannot update groups"
        )
    message = {
        "@type": "/akash.deployment.v1beta4.MsgUpdateDeployment",
        "id": {"owner": owner, "dseq": str(args.dseq)},
        "hash": base64.b64encode(built.version).decode(),
    }
    return _tx(args, [message])


def _deployment_close(args: argparse.Namespace) -> int:
    owner = args.owner or key(args).address
    message = {
        "@type": "/akash.deployment.v1beta4.MsgCloseDeployment",
        "id": {"owner": owner, "dseq": str(args.dseq)},
    }
    return _tx(args, [message])


def _bid_id(args: argparse.Namespace) -> dict[str, Any]:
    """The bid (and lease) id the flags name; a lease's id is its bid's."""
    return {
        "owner": args.owner or key(args).address,
        "dseq": str(args.dseq),
        "gseq": args.gseq,
        "oseq": args.oseq,
        "provider": args.provider,
        "bseq": 0,
    }


def _lease_create(args: argparse.Namespace) -> int:
    message = {"@type": "/akash.market.v1beta5.MsgCreateLease", "bid_id": _bid_id(args)}
    return _tx(args, [message])


def _lease_close(args: argparse.Namespace) -> int:
    message = {"@type": "/akash.market.v1beta5.MsgCloseLease", "id": _bid_id(args)}
    return _tx(args, [message])


def _escrow_deposit(args: argparse.Namespace) -> int:
    if args.scope != "deployment":
        raise StandinError("invalid account scope. allowed values deployment")
    signer = key(args).address
    owner = args.owner or signer
    message = {
        "@type": "/akash.escrow.v1.MsgAccountDeposit",
        "signer": signer,
        "id": {"scope": "deployment", "xid": f"{owner}/{args.dseq}"},
        "deposit": {"amount": _coin(args.amount), "sources": _sources(args)},
    }
    return _tx(args, [message])


def _cert_generate_client(args: argparse.Namespace) -> int:
    """Write ``<home>/<address>.pem``: a stand-in certificate (JSON body) and a key block."""
    address = key(args).address
    path = _certificate_path(args, address)
    if path.exists() and not args.overwrite:
        raise StandinError("certificate error: cannot overwrite certificate")
    body = {"owner": address, "serial": str(time.time_ns()), "valid": args.valid_duration}
    encoded = base64.b64encode(json.dumps(body).encode()).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"-----BEGIN CERTIFICATE-----\n{encoded}\n-----END CERTIFICATE-----\n"
        f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{encoded}\n-----END ENCRYPTED PRIVATE KEY-----\n",
        encoding="ascii",
    )
    path.chmod(0o600)
    return 0


def _cert_publish_client(args: argparse.Namespace) -> int:
    address = key(args).address
    path = _certificate_path(args, address)
    if not path.exists():
        raise StandinError("certificate error: does not exist")
    text = path.read_text(encoding="ascii")
    cert = text[: text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    message = {
        "@type": "/akash.cert.v1.MsgCreateCertificate",
        "owner": address,
        "cert": base64.b64encode(cert.encode() + b"\n").decode(),
        "pubkey": base64.b64encode(key(args).public_key).decode(),
    }
    return _tx(args, [message])


def _query(path: str, params: dict[str, str], *, paged: bool = False) -> Any:
    def run(args: argparse.Namespace) -> int:
        values: dict[str, Any] = {name: getattr(args, attr) for name, attr in params.items()}
        if paged:
            values.update(page_params(args))
        emit(args, Node(args.node).get(path.format(**vars(args)), values))
        return 0

    return run


def _provider_get(args: argparse.Namespace) -> int:
    # Prints the provider itself, not the query response (go/cli/provider_query.go).
    emit(args, Node(args.node).get(f"/akash/provider/v1beta4/providers/{args.address}")["provider"])
    return 0


def _keys_show(args: argparse.Namespace) -> int:
    identity = key(argparse.Namespace(from_=args.name, keyring_backend=args.keyring_backend))
    if args.address:
        print(identity.address)
        return 0
    pub = base64.b64encode(identity.public_key).decode()
    emit(
        args,
        {
            "name": args.name,
            "type": "local",
            "address": identity.address,
            "pubkey": f'{{"@type":"/cosmos.crypto.secp256k1.PubKey","key":"{pub}"}}',
        },
    )
    return 0


def _version(args: argparse.Namespace) -> int:
    print("v1.0.0-sandbox")
    return 0


def _deployment_id() -> list[Flag]:
    """``AddDeploymentIDFlags``."""
    return [Flag("owner"), Flag("dseq", "uint64", 0)]


def _lease_id() -> list[Flag]:
    """``AddLeaseIDFlags`` (= bid id: order id and provider)."""
    return [
        *_deployment_id(),
        Flag("gseq", "uint32", 1),
        Flag("oseq", "uint32", 1),
        Flag("provider"),
    ]


def _filters() -> list[Flag]:
    """``AddBidFilterFlags`` / ``AddLeaseFilterFlags``: group 1 and order 1 by default."""
    return [
        Flag("owner"),
        Flag("state", default=""),
        Flag("dseq", "uint64", 0),
        Flag("gseq", "uint32", 1),
        Flag("oseq", "uint32", 1),
        Flag("provider"),
    ]


def _tx_command(
    name: str, run: Any, *extra: Flag, args: tuple[str, ...] = (), **kw: Any
) -> Command:
    return Command(name, flags=[*tx_flags(), *extra], args=args, run=run, **kw)


def _query_command(name: str, run: Any, *extra: Flag, **kw: Any) -> Command:
    return Command(name, flags=[*query_flags(), *extra], run=run, **kw)


def _market_list(obj: str) -> Command:
    return _query_command(
        "list",
        _query(
            f"/akash/market/v1beta5/{obj}s/list",
            {
                "filters.owner": "owner",
                "filters.dseq": "dseq",
                "filters.gseq": "gseq",
                "filters.oseq": "oseq",
                "filters.provider": "provider",
                "filters.state": "state",
            },
            paged=True,
        ),
        *pagination_flags(),
        *_filters(),
        arg_rule="any",
    )


def akash_command() -> Command:
    """The ``akash`` command tree."""
    cert_generate_flags = [
        Flag("start-time"),
        Flag("valid-duration", "duration", "8760h0m0s"),
        Flag("overwrite", "bool", False),
    ]
    tx = Command("tx", persistent=[Flag("chain-id")]).add(
        Command("deployment").add(
            _tx_command(
                "create",
                _deployment_create,
                *_deployment_id(),
                Flag("deposit"),
                Flag("deposit-sources", "strings", ["grant", "balance"]),
                args=("sdl",),
            ),
            _tx_command("update", _deployment_update, *_deployment_id(), args=("sdl",)),
            _tx_command("close", _deployment_close, *_deployment_id()),
        ),
        Command("market").add(
            Command("lease").add(
                _tx_command("create", _lease_create, *_lease_id(), required=("dseq", "provider")),
                _tx_command("close", _lease_close, *_lease_id(), required=("dseq", "provider")),
            )
        ),
        Command("escrow").add(
            _tx_command(
                "deposit",
                _escrow_deposit,
                *_deployment_id(),
                Flag("deposit-sources", "strings", ["grant", "balance"]),
                args=("scope", "amount"),
            )
        ),
        Command("cert").add(
            Command("generate").add(
                _tx_command("client", _cert_generate_client, *cert_generate_flags)
            ),
            Command("publish").add(
                _tx_command("client", _cert_publish_client, Flag("to-genesis", "bool", False))
            ),
        ),
    )
    query = Command("query", aliases=("q",), persistent=[Flag("chain-id")]).add(
        Command("market").add(
            Command("bid").add(_market_list("bid")),
            Command("lease").add(_market_list("lease")),
        ),
        Command("deployment").add(
            _query_command(
                "get",
                _query(
                    "/akash/deployment/v1beta4/deployments/info",
                    {"id.owner": "owner", "id.dseq": "dseq"},
                ),
                *_deployment_id(),
                required=("dseq", "owner"),
            ),
            _query_command(
                "list",
                _query(
                    "/akash/deployment/v1beta4/deployments/list",
                    {"filters.owner": "owner", "filters.state": "state", "filters.dseq": "dseq"},
                    paged=True,
                ),
                *pagination_flags(),
                Flag("owner"),
                Flag("state"),
                Flag("dseq", "uint64", 0),
            ),
        ),
        Command("provider").add(
            _query_command("get", _provider_get, args=("address",)),
            _query_command(
                "list",
                _query("/akash/provider/v1beta4/providers", {}, paged=True),
                *pagination_flags(),
                arg_rule="any",
            ),
        ),
        Command("cert").add(
            _query_command(
                "list",
                _query(
                    "/akash/cert/v1/certificates/list",
                    {"filter.owner": "owner", "filter.serial": "serial", "filter.state": "state"},
                    paged=True,
                ),
                *pagination_flags(),
                Flag("serial"),
                Flag("owner"),
                Flag("state"),
                arg_rule="any",
            )
        ),
        Command("bank").add(
            _query_command(
                "balances",
                _query("/cosmos/bank/v1beta1/balances/{address}", {}, paged=True),
                *pagination_flags(),
                Flag("denom"),
                Flag("resolve-denom", "bool", False),
                args=("address",),
            )
        ),
    )
    keys = Command(
        "keys",
        persistent=[
            Flag("output", default="text"),
            *keyring_flags(),
            Flag("offline", "bool", True),
        ],
    ).add(
        Command(
            "show",
            flags=[
                Flag("bech", default="acc"),
                Flag("address", "bool", False, short="a"),
                Flag("pubkey", "bool", False, short="p"),
                Flag("device", "bool", False, short="d"),
                Flag("multisig-threshold", "int", 1),
                Flag("qrcode", "bool", False),
            ],
            args=("name",),
            arg_rule="min",
            run=_keys_show,
        )
    )
    version = Command(
        "version",
        flags=[Flag("long", "bool", False), Flag("output", default="text", short="o")],
        run=_version,
        arg_rule="any",
    )
    return Command("akash", persistent=root_persistent_flags()).add(tx, query, keys, version)
