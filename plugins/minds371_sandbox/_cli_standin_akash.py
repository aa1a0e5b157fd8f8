"""The ``akash`` stand-in: the chain-sdk CLI's command set (§3) against a sandbox at ``--node``.

Transactions print the ``tx_response`` JSON (with typed events carrying the ids) and exit 1 with
``Error: <raw_log>`` on stderr when the chain refuses them; queries print the LCD JSON shapes.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from typing import Any

from minds371_sandbox._cli_standin_common import (
    Node,
    StandinError,
    StandinParser,
    add_common,
    emit,
    key,
    load_sdl,
)

__all__ = ["akash_parser"]

_COIN = re.compile(r"^(\d+)([a-z][a-z0-9/]*)$")


def _coin(text: str) -> dict[str, str]:
    match = _COIN.match(text.strip())
    if not match:
        raise StandinError(f"invalid decimal coin expression: {text}")
    return {"denom": match.group(2), "amount": match.group(1)}


def _tx(args: argparse.Namespace, messages: list[dict[str, Any]]) -> int:
    identity = key(args)
    result = Node(args.node).broadcast(identity, messages)
    emit(args, result)
    if result.get("code", 0) != 0:
        print(f"Error: {result.get('raw_log', 'tx failed')}", file=sys.stderr)
        return 1
    return 0


def _deployment_create(args: argparse.Namespace) -> int:
    built = load_sdl(args.sdl)
    node = Node(args.node)
    owner = key(args).address
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
        "id": {"owner": owner, "dseq": str(dseq)},
        "groups": built.group_specs,
        "hash": base64.b64encode(built.version).decode(),
        "deposit": {"amount": deposit, "sources": args.deposit_sources.split(",")},
    }
    return _tx(args, [message])


def _deployment_update(args: argparse.Namespace) -> int:
    built = load_sdl(args.sdl)
    message = {
        "@type": "/akash.deployment.v1beta4.MsgUpdateDeployment",
        "id": {"owner": key(args).address, "dseq": str(args.dseq)},
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
        raise StandinError(f"unsupported escrow scope {args.scope!r}; use deployment")
    signer = key(args).address
    owner = args.owner or signer
    message = {
        "@type": "/akash.escrow.v1.MsgAccountDeposit",
        "signer": signer,
        "id": {"scope": "deployment", "xid": f"{owner}/{args.dseq}"},
        "deposit": {"amount": _coin(args.amount), "sources": args.deposit_sources.split(",")},
    }
    return _tx(args, [message])


def _query(path: str, params: dict[str, Any]) -> Any:
    def run(args: argparse.Namespace) -> int:
        values = {name: getattr(args, attr) for name, attr in params.items()}
        emit(args, Node(args.node).get(path.format(**vars(args)), values))
        return 0

    return run


def _keys_show(args: argparse.Namespace) -> int:
    identity = key(argparse.Namespace(from_=args.name))
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


def _ids(parser: argparse.ArgumentParser, *, owner: bool = True, gseq: int | None = None) -> None:
    parser.add_argument("--dseq", type=int, default=0)
    if owner:
        parser.add_argument("--owner", default="")
    if gseq is not None:
        parser.add_argument("--gseq", type=int, default=gseq)
        parser.add_argument("--oseq", type=int, default=gseq)


def akash_parser() -> argparse.ArgumentParser:
    """The ``akash`` command tree."""
    root = StandinParser(prog="akash", description="akash (minds371 sandbox stand-in)")
    top = root.add_subparsers(dest="command", required=True, parser_class=StandinParser)
    tx = top.add_parser("tx").add_subparsers(
        dest="module", required=True, parser_class=StandinParser
    )
    query = top.add_parser("query", aliases=["q"]).add_subparsers(
        dest="module", required=True, parser_class=StandinParser
    )

    dep_tx = tx.add_parser("deployment").add_subparsers(
        dest="action", required=True, parser_class=StandinParser
    )
    create = dep_tx.add_parser("create")
    create.add_argument("sdl")
    create.add_argument("--dseq", type=int, default=0)
    create.add_argument("--deposit", default="")
    create.add_argument("--deposit-sources", default="balance")
    create.set_defaults(run=_deployment_create)
    update = dep_tx.add_parser("update")
    update.add_argument("sdl")
    update.add_argument("--dseq", type=int, required=True)
    update.set_defaults(run=_deployment_update)
    close = dep_tx.add_parser("close")
    _ids(close)
    close.set_defaults(run=_deployment_close)

    market_tx = tx.add_parser("market").add_subparsers(
        dest="object", required=True, parser_class=StandinParser
    )
    lease_tx = market_tx.add_parser("lease").add_subparsers(
        dest="action", required=True, parser_class=StandinParser
    )
    lease_create = lease_tx.add_parser("create")
    _ids(lease_create, gseq=1)
    lease_create.add_argument("--provider", required=True)
    lease_create.set_defaults(run=_lease_create)
    lease_close = lease_tx.add_parser("close")
    _ids(lease_close, gseq=1)
    lease_close.add_argument("--provider", required=True)
    lease_close.set_defaults(run=_lease_close)

    escrow_tx = tx.add_parser("escrow").add_subparsers(
        dest="action", required=True, parser_class=StandinParser
    )
    deposit = escrow_tx.add_parser("deposit")
    deposit.add_argument("scope")
    deposit.add_argument("amount")
    _ids(deposit)
    deposit.add_argument("--deposit-sources", default="balance")
    deposit.set_defaults(run=_escrow_deposit)

    market_q = query.add_parser("market").add_subparsers(
        dest="object", required=True, parser_class=StandinParser
    )
    for obj in ("bid", "lease"):
        listing = (
            market_q.add_parser(obj)
            .add_subparsers(dest="action", required=True, parser_class=StandinParser)
            .add_parser("list")
        )
        # bid list filters on gseq/oseq 1 unless told otherwise (0 = every group), as the
        # reference CLI does; lease list shows every group by default.
        _ids(listing, gseq=1 if obj == "bid" else 0)
        listing.add_argument("--provider", default="")
        listing.add_argument("--state", default="")
        listing.set_defaults(
            run=_query(
                f"/akash/market/v1beta5/{obj}s/list",
                {
                    "filters.owner": "owner",
                    "filters.dseq": "dseq",
                    "filters.gseq": "gseq",
                    "filters.oseq": "oseq",
                    "filters.provider": "provider",
                    "filters.state": "state",
                },
            )
        )

    dep_q = query.add_parser("deployment").add_subparsers(
        dest="action", required=True, parser_class=StandinParser
    )
    get = dep_q.add_parser("get")
    _ids(get)
    get.set_defaults(
        run=_query(
            "/akash/deployment/v1beta4/deployments/info", {"id.owner": "owner", "id.dseq": "dseq"}
        )
    )
    dep_list = dep_q.add_parser("list")
    dep_list.add_argument("--owner", default="")
    dep_list.add_argument("--state", default="")
    dep_list.set_defaults(
        run=_query(
            "/akash/deployment/v1beta4/deployments/list",
            {"filters.owner": "owner", "filters.state": "state"},
        )
    )

    prov_q = query.add_parser("provider").add_subparsers(
        dest="action", required=True, parser_class=StandinParser
    )
    prov_get = prov_q.add_parser("get")
    prov_get.add_argument("address")
    prov_get.set_defaults(run=_query("/akash/provider/v1beta4/providers/{address}", {}))
    prov_q.add_parser("list").set_defaults(run=_query("/akash/provider/v1beta4/providers", {}))

    bank_q = query.add_parser("bank").add_subparsers(
        dest="action", required=True, parser_class=StandinParser
    )
    balances = bank_q.add_parser("balances")
    balances.add_argument("address")
    balances.set_defaults(run=_query("/cosmos/bank/v1beta1/balances/{address}", {}))

    keys = top.add_parser("keys").add_subparsers(
        dest="action", required=True, parser_class=StandinParser
    )
    show = keys.add_parser("show")
    show.add_argument("name")
    show.add_argument("-a", "--address", action="store_true")
    show.set_defaults(run=_keys_show)
    top.add_parser("version").set_defaults(run=_version)

    _add_common_everywhere(root)
    return root


def _add_common_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every leaf command the global flags (cobra allows them after the sub-command)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _add_common_everywhere(child)
            return
    add_common(
        parser,
        signer=parser.prog.split()[1:2] in (["tx"], ["keys"]) or " tx " in f" {parser.prog} ",
    )
