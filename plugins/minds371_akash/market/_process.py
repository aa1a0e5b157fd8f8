"""Running the ``akash`` and ``provider-services`` binaries and reading what they print.

Every run has a timeout; its stderr is kept (redacted, truncated) for the error message. A failed
run becomes a :class:`~minds371.errors.MarketError` subclass chosen from what the binary said,
using the same chain and provider messages as the Console API (``Insufficient funds``,
``manifest version validation failed``, ``no lease for deployment`` …).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.streams.text import TextReceiveStream

from minds371.errors import (
    ConfigurationError,
    InsufficientFunds,
    LeaseError,
    ManifestRejected,
    MarketError,
)
from minds371.logging import redact
from minds371_akash.market._errors import NotFound

__all__ = [
    "CERTIFICATE_HOWTO",
    "CommandResult",
    "JsonStream",
    "classify_failure",
    "json_values",
    "run_command",
    "stream_json_values",
]

_TAIL = 800
_MAX_VALUE = 1 << 20  # a JSON value still incomplete after this many characters is skipped

#: How to give the signing key the client certificate ``akash tx deployment create`` requires.
CERTIFICATE_HOWTO = (
    "`akash tx deployment create` needs a client certificate for the key, as a file in the "
    "akash home directory and published on chain: run `akash tx cert generate client --from KEY` "
    "then `akash tx cert publish client --from KEY`"
)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a finished command printed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Stdout as JSON.

        Raises:
            MarketError: stdout is not JSON.
        """
        text = self.stdout.strip()
        # Some commands print a line of text before their JSON (``tx deployment create`` warns
        # about volumes on stdout), and the JSON may be indented over many lines: take the
        # last JSON value printed.
        values = json_values(text)
        if values:
            return values[-1]
        raise MarketError(
            f"`{_show(self.argv)}` printed no JSON: {redact(text[:_TAIL])}",
            details={"command": _show(self.argv)},
        )


def _show(argv: Sequence[str]) -> str:
    return " ".join(argv[:4])


def json_values(text: str) -> list[Any]:
    """Every JSON value in ``text``, in order; lines that are not JSON are skipped."""
    stream = JsonStream()
    return [*stream.feed(text), *stream.close()]


class JsonStream:
    """Splits printed text into JSON values, however they are laid out over lines.

    The binaries print one value per line or indented over many lines
    (``provider-services lease-logs -o json`` and ``lease-events`` use Go's ``json.Indent``,
    ``cmd/provider-services/cmd/leaseLogs.go`` via chain-sdk ``go/cli/utils.go`` ``PrintJSON``),
    and sometimes a plain text line between values. A line that does not start a JSON object or
    array is skipped.
    """

    _decoder = json.JSONDecoder()

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, chunk: str) -> list[Any]:
        """Add printed text; returns the values it completes."""
        self._buffer += chunk
        return self._drain(final=False)

    def close(self) -> list[Any]:
        """The end of the output: returns what is left that parses."""
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> list[Any]:
        out: list[Any] = []
        while True:
            text = self._buffer.lstrip()
            self._buffer = text
            if not text:
                return out
            if text[0] in "{[":
                try:
                    value, end = self._decoder.raw_decode(text)
                except ValueError:
                    newline = text.find("\n")
                    if not final and len(text) < _MAX_VALUE:
                        return out  # an incomplete value: wait for more output
                    if newline < 0:
                        self._buffer = ""
                        return out
                    self._buffer = text[newline + 1 :]
                    continue
                out.append(value)
                self._buffer = text[end:]
                continue
            newline = text.find("\n")
            if newline < 0:
                if final:
                    self._buffer = ""
                return out
            self._buffer = text[newline + 1 :]


def classify_failure(argv: Sequence[str], text: str, *, code: int | None = None) -> MarketError:
    """The error for a binary's failure or a transaction's non-zero code, from its message.

    ``text`` should hold both stderr and stdout: ``provider-services send-manifest`` prints the
    providers' answers on stdout and only ``submit manifest to some providers has been failed``
    on stderr (``cmd/provider-services/cmd/manifest.go``).
    """
    message = str(redact(text.strip()[-_TAIL:])) or f"exit status {code}"
    details: dict[str, Any] = {"command": _show(argv), "stderr": message}
    if code is not None:
        details["code"] = code
    lower = message.lower()
    text_out = f"`{_show(argv)}` failed: {message}"
    if "no certificate file found" in lower or "certificate has not been committed" in lower:
        return MarketError(f"{text_out}. {CERTIFICATE_HOWTO}", details=details)
    if "insufficient funds" in lower or "deposit too low" in lower or "overdrawn" in lower:
        return InsufficientFunds(text_out, details=details)
    if any(
        marker in lower
        for marker in ("manifest version validation failed", "invalid manifest", "cross-validation")
    ):
        return ManifestRejected(text_out, details=details)
    if "no lease for deployment" in lower or "no active leases found" in lower:
        # The provider (or, in sync broadcast mode, the chain) has not seen the lease yet.
        return LeaseError(text_out, retryable=True, details=details)
    if "account sequence mismatch" in lower:
        # Another transaction from this account is still pending (sync broadcast mode).
        return MarketError(text_out, retryable=True, details=details)
    if "bid not open" in lower or "order not open" in lower or "cannot create lease" in lower:
        return LeaseError(text_out, details=details)
    if "not found" in lower:
        return NotFound(text_out, details=details)
    transient = ("connection refused", "timed out", "timeout", "unavailable", "eof", "503", "502")
    return MarketError(text_out, retryable=any(t in lower for t in transient), details=details)


async def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    deadline: float = 120.0,
) -> CommandResult:
    """Run ``argv`` to completion (within ``deadline`` seconds) and return its output.

    Raises:
        ConfigurationError: the binary does not exist or cannot run.
        MarketError: it ran past the deadline (retryable; the outcome is unknown).
    """
    full_env = {**os.environ, **(env or {})}
    try:
        with anyio.fail_after(deadline):
            done = await anyio.run_process(list(argv), env=full_env, check=False)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"`{argv[0]}` not found: install it or configure its path", details={"binary": argv[0]}
        ) from exc
    except PermissionError as exc:
        raise ConfigurationError(f"`{argv[0]}` is not executable") from exc
    except TimeoutError as exc:
        raise MarketError(
            f"`{_show(argv)}` did not finish within {deadline:.0f} s",
            retryable=True,
            details={"command": _show(argv), "ambiguous": True},
        ) from exc
    return CommandResult(
        argv=tuple(argv),
        returncode=done.returncode if done.returncode is not None else -1,
        stdout=done.stdout.decode("utf-8", "replace"),
        stderr=done.stderr.decode("utf-8", "replace"),
    )


async def stream_json_values(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None
) -> AsyncGenerator[Mapping[str, Any], None]:
    """Start ``argv`` and yield each JSON object it prints on stdout (see :class:`JsonStream`).

    Text that is not JSON is skipped. The process is terminated when the consumer stops early.

    Raises:
        ConfigurationError: the binary does not exist.
        MarketError: the process exited with a failure.
    """
    full_env = {**os.environ, **(env or {})}
    try:
        process = await anyio.open_process(
            list(argv), env=full_env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"`{argv[0]}` not found: install it or configure its path"
        ) from exc
    try:
        assert process.stdout is not None
        stream = JsonStream()
        async for chunk in TextReceiveStream(process.stdout):
            for item in stream.feed(chunk):
                if isinstance(item, Mapping):
                    yield item
        for item in stream.close():
            if isinstance(item, Mapping):
                yield item
        code = await process.wait()
        if code != 0:
            stderr = b""
            if process.stderr is not None:
                try:
                    stderr = await process.stderr.receive(65536)
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    pass
            raise classify_failure(argv, stderr.decode("utf-8", "replace"), code=code)
    finally:
        if process.returncode is None:
            process.terminate()
            with anyio.move_on_after(2, shield=True):
                await process.wait()
        await process.aclose()
