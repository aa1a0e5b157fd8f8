"""An IPFS RPC API that answers the registry's check (``version``) and fails every ``add``.

What a node whose disk filled up looks like: the registry passes its check before any spend,
then cannot store a deployment's metadata once the deployment is up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.threaded_http import serve_http


class _NodeThatWillNotStore(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.startswith("/api/v0/version"):
            body, status = b'{"Version": "0.30.0"}', 200
        else:
            body, status = b'{"Message": "disk full", "Code": 0, "Type": "error"}', 500
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def ipfs_node_that_will_not_store() -> Iterator[str]:
    """Serve such a node on 127.0.0.1; yield its API URL (for ``MINDS371_IPFS_API``)."""
    with serve_http(_NodeThatWillNotStore) as url:
        yield url
