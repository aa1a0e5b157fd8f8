"""A hostile Console on 127.0.0.1: every request gets a 400 whose body echoes the request headers.

Some servers echo what they were sent in their error bodies; a client that keeps error text (in
task events, saga steps, results, logs) must not keep the credentials it sent along with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["EchoHandler", "echo_console"]


class EchoHandler(BaseHTTPRequestHandler):
    """Answers 400 with ``bad request; you sent:`` and the headers, one per line.

    With ``padding`` set, the body starts with that many ``x`` and echoes only ``x-api-key``: a
    client that keeps the first N characters of a body then cuts the key where a test wants.
    """

    padding = 0

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        echoed = "".join(f"{name}: {value}\n" for name, value in self.headers.items())
        if self.padding:
            echoed = f"x-api-key: {self.headers.get('x-api-key')}\n"
        body = ("x" * self.padding + "bad request; you sent:\n" + echoed).encode()
        self.send_response(400)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def echo_console() -> Iterator[tuple[str, type[EchoHandler]]]:
    """Serve an echoing Console in a thread; yield its URL and its handler class (to configure)."""
    handler = type("Echo", (EchoHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
