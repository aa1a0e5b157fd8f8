"""The idle probe over real HTTP on 127.0.0.1: what it reads, and what it refuses to take."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from minds371_deploy._idle_probe import MAX_BODY, IdleProbe, ProbeFailed, read_counters
from tests.servers.threaded_http import serve_http


class _Service(BaseHTTPRequestHandler):
    served = 0

    def do_GET(self) -> None:
        status, body = 200, b""
        if self.path == "/requests":
            body = f"{type(self).served}\n".encode()
        elif self.path == "/metrics":
            body = b'http_requests_total{code="200"} 4\nhttp_requests_total{code="404"} 1\n'
        elif self.path == "/big":
            body = b"1" * (MAX_BODY + 1)
        elif self.path == "/moved":
            status = 302
        else:
            type(self).served += 1
            body = b"hello"
        self.send_response(status)
        if status == 302:
            self.send_header("location", "http://example.com/requests")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def service() -> Iterator[str]:
    with serve_http(type("Service", (_Service,), {"served": 0})) as url:
        yield url


async def test_a_count_and_a_metric_are_read_from_the_endpoint(service: str) -> None:
    assert await read_counters([service], IdleProbe.parse("/requests"), allow_private=True) == {
        service: 0.0
    }
    metric = IdleProbe.parse("/metrics#http_requests_total")
    assert await read_counters([service], metric, allow_private=True) == {service: 5.0}


async def test_endpoints_on_this_machine_are_not_probed_unless_allowed(service: str) -> None:
    with pytest.raises(ProbeFailed, match=re.escape("not probed: 127.0.0.1 is")):
        await read_counters([service], IdleProbe.parse("/requests"))


@pytest.mark.parametrize(
    ("path", "why"),
    [("/moved", "HTTP 302"), ("/big", f"longer than {MAX_BODY} bytes"), ("/", "request count")],
    ids=["a redirect is not followed", "a long body is cut", "a page is not a count"],
)
async def test_an_answer_that_is_not_a_count_fails_the_probe(
    service: str, path: str, why: str
) -> None:
    with pytest.raises(ProbeFailed, match=why):
        await read_counters([service], IdleProbe.parse(path), allow_private=True)


async def test_one_endpoint_that_fails_fails_the_whole_read(service: str) -> None:
    # The unread endpoint could be the busy one: no count is taken from a partial read.
    with socket.socket() as spare:  # a port nothing listens on
        spare.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{spare.getsockname()[1]}"
    with pytest.raises(ProbeFailed, match=re.escape(f"{closed}/requests")) as failed:
        await read_counters([service, closed], IdleProbe.parse("/requests"), allow_private=True)
    assert service + "/requests" not in str(failed.value)
    with pytest.raises(ProbeFailed, match="no lease reports an HTTP endpoint"):
        await read_counters([], IdleProbe.parse("/requests"), allow_private=True)
