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

__all__ = ["CommandResult", "classify_failure", "run_command", "stream_json_lines"]

_TAIL = 800


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
        try:
            return json.loads(text)
        except ValueError:
            # Some commands print a line of text before their JSON; take the last JSON line.
            for line in reversed(text.splitlines()):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        raise MarketError(
            f"`{_show(self.argv)}` printed no JSON: {redact(text[:_TAIL])}",
            details={"command": _show(self.argv)},
        )


def _show(argv: Sequence[str]) -> str:
    return " ".join(argv[:4])


def classify_failure(argv: Sequence[str], text: str, *, code: int | None = None) -> MarketError:
    """The error for a binary's failure or a transaction's non-zero code, from its message."""
    message = str(redact(text.strip()[-_TAIL:])) or f"exit status {code}"
    details: dict[str, Any] = {"command": _show(argv), "stderr": message}
    if code is not None:
        details["code"] = code
    lower = message.lower()
    text_out = f"`{_show(argv)}` failed: {message}"
    if "insufficient funds" in lower or "deposit too low" in lower or "overdrawn" in lower:
        return InsufficientFunds(text_out, details=details)
    if any(
        marker in lower
        for marker in ("manifest version validation failed", "invalid manifest", "cross-validation")
    ):
        return ManifestRejected(text_out, details=details)
    if "no lease for deployment" in lower:
        return LeaseError(text_out, retryable=True, details=details)
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


async def stream_json_lines(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None
) -> AsyncGenerator[Mapping[str, Any], None]:
    """Start ``argv`` and yield each JSON object it prints on stdout, one per line.

    Non-JSON lines are skipped. The process is terminated when the consumer stops early.

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
        buffer = ""
        async for chunk in TextReceiveStream(process.stdout):
            buffer += chunk
            *lines, buffer = buffer.split("\n")
            for line in lines:
                item = _json_object(line)
                if item is not None:
                    yield item
        item = _json_object(buffer)
        if item is not None:
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


def _json_object(line: str) -> Mapping[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, Mapping) else None
