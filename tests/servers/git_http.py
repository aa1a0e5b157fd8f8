"""A git smart-HTTP server on 127.0.0.1: ``git http-backend`` behind a tiny threaded HTTP server.

Shallow clones need git's smart protocol (the dumb one cannot negotiate a depth), which
``git http-backend`` speaks as a CGI program (git 2.39 ``Documentation/git-http-backend.txt``:
``GIT_PROJECT_ROOT``, ``GIT_HTTP_EXPORT_ALL``, ``PATH_INFO``, ``QUERY_STRING``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.servers.threaded_http import serve_http


@contextmanager
def git_http_server(root: Path) -> Iterator[str]:
    """Serve the repositories under ``root``; yield the base URL (``http://127.0.0.1:P``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._backend()

        def do_POST(self) -> None:
            self._backend()

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _backend(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("content-type", ""),
                "CONTENT_LENGTH": str(length),
                "HTTP_CONTENT_ENCODING": self.headers.get("content-encoding", ""),
                "GIT_PROTOCOL": self.headers.get("git-protocol", ""),
                "REMOTE_ADDR": "127.0.0.1",
            }
            done = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            # CGI headers end at the first blank line, "\r\n\r\n" or "\n\n"; the payload after
            # it is binary and passed on byte for byte.
            ends = [i for i in (done.stdout.find(b"\r\n\r\n"), done.stdout.find(b"\n\n")) if i >= 0]
            cut = min(ends) if ends else len(done.stdout)
            gap = 4 if done.stdout.startswith(b"\r\n\r\n", cut) else 2
            head, payload = done.stdout[:cut], done.stdout[cut + gap :]
            status, headers = 200, []
            for line in head.decode("latin-1").splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    with serve_http(Handler) as url:
        yield url
