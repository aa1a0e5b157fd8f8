"""Serve a ``BaseHTTPRequestHandler`` class on 127.0.0.1 from a thread, for a test's duration."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free port; yield the base URL (``http://127.0.0.1:P``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # Polled often: a test's end waits for the loop to notice the shutdown.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
