"""Run the MCP server over stdio or streamable HTTP, on a runtime over ``$MINDS371_HOME``."""

from __future__ import annotations

import argparse
import hmac
import sys
from typing import Any

import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from starlette.types import ASGIApp, Receive, Scope, Send

from minds371.adapters.mcp.server import ConfirmSpend, build_server
from minds371.adapters.resources import resource_templates
from minds371.plugins import discover_plugins
from minds371.runtime import AgentRuntime

__all__ = ["BearerAuth", "serve"]


async def serve(args: argparse.Namespace, token: str | None) -> int:
    """Serve until the client goes (stdio) or the process is interrupted (HTTP)."""
    import minds371

    plugins = discover_plugins()
    async with AgentRuntime(load_plugins=False, plugins=plugins) as runtime:
        server = build_server(
            runtime,
            resources=resource_templates(plugins, runtime),
            confirm_spend=ConfirmSpend(args.confirm_spend),
            version=str(minds371.__version__),
        )
        if args.http:
            await _serve_http(server, args.host, args.port, token)
        else:
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
    return 0


async def _serve_http(server: Server[Any], host: str, port: int, token: str | None) -> None:
    app: Any = server.streamable_http_app(host=host)
    if token is not None:
        app = BearerAuth(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await _AnnouncingServer(config).serve()


class _AnnouncingServer(uvicorn.Server):
    """uvicorn, saying where it listens once it does (``--port 0`` picks the port)."""

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            bound = self.servers[0].sockets[0].getsockname()
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            sys.stderr.write(f"minds371 mcp: serving http://{shown}:{bound[1]}/mcp\n")
            sys.stderr.flush()


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="minds371"'),
                        ],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b'{"error": "a valid bearer token is required"}',
                    }
                )
                return
        await self.app(scope, receive, send)
