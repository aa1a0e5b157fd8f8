"""``minds371 sandbox serve``: run the sandbox marketplace as an HTTP server.

With ``--port 0`` the kernel picks a free port; the bound base URL is printed as the first line on
stdout (``http://127.0.0.1:PORT``) so that a harness can read it. Everything else goes to stderr.
``--state FILE`` loads the world from FILE and keeps saving it (after every change, about once a
second while blocks are produced, and on a clean shutdown: SIGINT or SIGTERM), so the world
survives a restart, a kill included.

The admin routes need a token: ``$MINDS371_SANDBOX_ADMIN_TOKEN`` if set, else a new one written
(mode 0600) to ``--admin-token-file`` (default ``$MINDS371_HOME/sandbox/admin-token``). The Console
routes accept the API key ``sandbox-local-key``, every ``--api-key`` and the keys issued through
``POST /sandbox/api-keys``. Requests must name a loopback host or an ``--allow-host``; binding a
non-loopback address is allowed, with a warning.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

from minds371.config import base_home, write_private
from minds371.errors import ConfigurationError, FieldIssue, ValidationError

__all__ = ["register_cli"]


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``minds371 sandbox serve`` to the ``minds371`` command."""
    sandbox = sub.add_parser("sandbox", help="the local Akash marketplace (sandbox network)")
    commands = sandbox.add_subparsers(dest="sandbox_command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the sandbox (Console API, provider gateways, LCD) over HTTP",
        description="Serve the sandbox marketplace. With --port 0 the bound URL is printed first.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", default="0", help="port to bind; 0 picks a free one (default)")
    serve.add_argument("--block-time", default="0.2", help="seconds per block (default 0.2)")
    serve.add_argument("--providers", type=Path, help="YAML/JSON file with the provider set")
    serve.add_argument("--state", type=Path, help="JSON file the world is loaded from and saved to")
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="an x-api-key to accept besides sandbox-local-key (repeatable)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name to answer to besides loopback ones (repeatable)",
    )
    serve.add_argument(
        "--admin-token-file",
        type=Path,
        help="where the admin token is written (default $MINDS371_HOME/sandbox/admin-token; "
        "not written when $MINDS371_SANDBOX_ADMIN_TOKEN gives the token)",
    )
    serve.set_defaults(handler=_serve)

    def _help(args: argparse.Namespace) -> int:
        sandbox.print_help(sys.stderr)
        return 2

    sandbox.set_defaults(handler=_help)


def _options(args: argparse.Namespace) -> tuple[int, float]:
    issues: list[FieldIssue] = []
    port = block_time = None
    try:
        port = int(args.port)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        issues.append(FieldIssue("/port", f"must be an integer from 0 to 65535, got {args.port!r}"))
    try:
        block_time = float(args.block_time)
        if not 0.001 <= block_time <= 60:
            raise ValueError
    except ValueError:
        issues.append(
            FieldIssue("/block-time", f"must be seconds from 0.001 to 60, got {args.block_time!r}")
        )
    if issues or port is None or block_time is None:
        raise ValidationError(issues, subject="sandbox serve options")
    return port, block_time


def _admin_token(args: argparse.Namespace) -> str:
    """The admin token: the environment's, else a new one written to the token file."""
    from minds371_sandbox._guard import ADMIN_TOKEN_ENV

    given = os.environ.get(ADMIN_TOKEN_ENV, "").strip()
    if given and args.admin_token_file is None:
        return given
    token = given or secrets.token_urlsafe(32)
    path = args.admin_token_file or base_home() / "sandbox" / "admin-token"
    try:
        write_private(path, token + "\n")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the admin token to {path}: {exc}") from exc
    print(f"minds371 sandbox: admin token in {path}", file=sys.stderr, flush=True)
    return token


def _warn_if_exposed(host: str, bound: str) -> None:
    from minds371_sandbox._guard import is_loopback_host

    if is_loopback_host(bound):
        return
    print(
        f"minds371 sandbox: WARNING: listening on {host} ({bound}), which other machines may "
        "reach. The sandbox is a test double: its Console routes take any known API key and "
        "its admin routes move money and break providers on a bearer token. Bind 127.0.0.1 "
        "unless you mean it; clients must use a loopback host or an --allow-host name.",
        file=sys.stderr,
        flush=True,
    )


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
        # and without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    class _GracefulServer(uvicorn.Server):
        # uvicorn re-raises SIGINT/SIGTERM once it has stopped, which would kill the process
        # before the world is saved; stop gracefully and return instead.
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                self.should_exit = True

    from minds371_sandbox._network import SandboxNetwork
    from minds371_sandbox._providers import load_providers

    port, block_time = _options(args)
    providers = load_providers(args.providers) if args.providers else None
    network = SandboxNetwork(
        providers=providers,
        block_time=block_time,
        state_file=args.state,
        admin_token=_admin_token(args),
        api_keys=args.api_key,
        allowed_hosts=args.allow_host,
    )
    async with network:  # loads --state first: a bad file fails before anything listens
        sock = _bind(args.host, port)
        try:
            bound = sock.getsockname()
            _warn_if_exposed(args.host, bound[0])
            host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            config = uvicorn.Config(
                network.app,
                lifespan="off",
                ws="wsproto",
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=2,
            )
            server = _GracefulServer(config)
            print(f"http://{host}:{bound[1]}", flush=True)
            print(
                f"minds371 sandbox: serving on http://{host}:{bound[1]} "
                f"(block time {block_time}s, height {network.height})",
                file=sys.stderr,
                flush=True,
            )
            await server.serve(sockets=[sock])
        finally:
            sock.close()
    return 0
