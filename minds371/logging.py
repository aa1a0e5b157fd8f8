"""Logging: structlog with dotted event names, and secrets redacted before any processor sees them.

The library never configures structlog globally; only :func:`configure_cli_logging`, called by the
``minds371`` command, does. Library code logs through :func:`get_logger`, whose loggers scrub every
event before handing it on, so a secret cannot reach a log line whatever the host application's
structlog configuration is. A host that configured neither structlog nor a handler of the standard
``logging`` module hears nothing from the library: structlog's unconfigured default would print
to stdout, which is the host's output, not ours. A host that configured only ``logging`` gets the
events there, under the logger's name. Hosts that want the same scrubbing for their own events
can add :func:`redact_secrets` to their processor chain.

What counts as a secret:

* any field whose name looks like one (``api_key``, ``x-api-key``, ``authorization``, ``password``,
  ``mnemonic``, ``private_key``, ``secret``, ``token``, ``passphrase``, ...), at any depth;
* values that look like one wherever they appear: ``Bearer …`` credentials, 32-byte hex private
  keys, BIP-39-shaped mnemonics (12 to 24 lower-case words);
* any value registered with :func:`register_secret` (keys loaded from the environment are), and
  a piece of one cut off at either end of a text (an error body truncated mid-key).

:func:`scrub` applies the same rules to data that is stored rather than logged (task events, saga
steps, error details): it keeps public digests readable at any depth, since a resumed saga needs
its manifest version and transaction hashes back.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any

import structlog

__all__ = [
    "REDACTED",
    "configure_cli_logging",
    "get_logger",
    "is_secret_key",
    "redact",
    "redact_secrets",
    "register_secret",
    "register_secrets_in",
    "reset_registered_secrets",
    "scrub",
    "secrets_generation",
]

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"(api[-_]?key|apikey|secret|passw(or)?d|passphrase|mnemonic|seed[-_]?phrase|private[-_]?key"
    r"|priv[-_]?key|authorization|auth[-_]?token|access[-_]?token|refresh[-_]?token|bearer"
    r"|^token$|[-_]token$|jwt|credentials?$|cookie|keystore)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# 64 hex digits are a private key's shape; after "sha256:" they are a content digest (an image
# pinned by digest in an SDL, a manifest, an event), which is public and must survive exactly.
_HEX_KEY = re.compile(r"\b(?<!sha256:)(0x)?[0-9a-fA-F]{64}\b")
_MNEMONIC = re.compile(r"\b(?:[a-z]{3,8}\s+){11,23}[a-z]{3,8}\b")
# Cheap tests that a text cannot hold what the patterns above look for, so that the common text
# (no key, no credential) skips them: each pattern tries a match at every position, which costs
# about 25 µs per kilobyte of text (a journaled manifest, an error body).
# 64 hex digits in a row, without the boundaries: a search that skips ahead to a hex digit.
_HEX_RUN = re.compile(r"[0-9a-fA-F]{64}")
# A mnemonic's fewest words: a text split on whitespace into fewer pieces holds none (``\s`` and
# ``str.split`` agree on what whitespace is).
_MNEMONIC_WORDS = 12
_MIN_REGISTERED_LENGTH = 6
# A truncated secret is still a secret: a text that ends with its first 8 characters (or begins
# with its last 8) has been cut through one. Shorter pieces would match ordinary words.
_MIN_FRAGMENT = 8
_PUBLIC_DIGEST = re.compile(
    r"(^|[-_])(hash|digest|tx|txhash|tx_hash|record_id|version|manifest_hash|cid|entry_hash)$",
    re.IGNORECASE,
)

_registered: set[str] = set()
_registered_lock = threading.Lock()
# What readers scan: a tuple replaced whole (under the lock) on every change, so redacting a text
# takes no lock and copies nothing.
_registered_now: tuple[str, ...] = ()
# Bumped with every change: cached redactions are keyed by it, so one computed with the secrets of
# before a change (in another thread, as it happened) is never served after it.
_registered_generation = 0


def register_secret(value: str) -> None:
    """Register a secret value so that it is redacted wherever it appears in a log event.

    Values shorter than six characters are ignored: redacting them would mangle ordinary text.
    """
    global _registered_now, _registered_generation
    if len(value) >= _MIN_REGISTERED_LENGTH:
        forms = _escaped_forms(value)
        with _registered_lock:
            if not forms <= _registered:
                _registered.update(forms)
                _registered_now = tuple(_registered)
                _registered_generation += 1
                _redact_short_text.cache_clear()


def secrets_generation() -> int:
    """A number that changes whenever the registered secrets change.

    What was scrubbed under one generation is clean under it; after a change it must be scrubbed
    again (a value registered since may be in it).
    """
    return _registered_generation


def _escaped_forms(value: str) -> set[str]:
    """``value`` and the forms it takes inside a JSON string.

    A secret with a quote, a backslash or a control character is escaped in JSON text (a
    manifest, a journaled step, an error body), and Go's encoder also escapes ``<``, ``>`` and
    ``&``: the raw value would not be found there, so each escaped form is a secret too.
    """
    plain = json.dumps(value, ensure_ascii=False)[1:-1]
    ascii_only = json.dumps(value)[1:-1]
    go_html = plain.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return {value, plain, ascii_only, go_html}


def reset_registered_secrets() -> None:
    """Forget every value registered with :func:`register_secret`.

    The registered set lives as long as the process; a test suite calls this between tests so
    that a redaction test cannot pass on a value another test happened to register.
    """
    global _registered_now, _registered_generation
    with _registered_lock:
        _registered.clear()
        _registered_now = ()
        _registered_generation += 1
        _redact_short_text.cache_clear()


def register_secrets_in(data: Any, _depth: int = 0) -> None:
    """Register every string held under a secret-looking key of ``data``, at any depth.

    The runtime calls this on task payloads, so that a secret passed to an agent stays redacted
    even when the agent repeats it in free text (an exception message, say).
    """
    if _depth > 20:
        return
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(key, str) and is_secret_key(key) and isinstance(value, str):
                register_secret(value)
            else:
                register_secrets_in(value, _depth + 1)
    elif isinstance(data, list | tuple):
        for item in data:
            register_secrets_in(item, _depth + 1)


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a field of this name holds a secret (``x-api-key``, ``mnemonic``, ...)."""
    # Cached: field names are few and recur in every event and step.
    return bool(_SECRET_KEY.search(key))


@lru_cache(maxsize=4096)
def _is_public_digest_key(key: str) -> bool:
    return bool(_PUBLIC_DIGEST.search(key))


def _redact_registered(text: str, secrets: tuple[str, ...] | None = None) -> str:
    for secret in _registered_now if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
        if len(secret) > _MIN_FRAGMENT:
            text = _redact_cut(text, secret)
    return text


def _redact_cut(text: str, secret: str) -> str:
    """Redact a piece of ``secret`` left at the end or the start of ``text`` by truncation."""
    if secret[:_MIN_FRAGMENT] in text:
        for size in range(len(secret) - 1, _MIN_FRAGMENT - 1, -1):
            if text.endswith(secret[:size]):
                text = text[:-size] + REDACTED
                break
    if secret[-_MIN_FRAGMENT:] in text:
        for size in range(len(secret) - 1, _MIN_FRAGMENT - 1, -1):
            if text.startswith(secret[-size:]):
                text = REDACTED + text[size:]
                break
    return text


def _redact_text(text: str) -> str:
    if len(text) <= _CACHED_TEXT:
        return _redact_short_text(text, _registered_generation)
    return _redact_text_now(text, _registered_now)


# Short texts (statuses, names, addresses, event messages) recur across events and tasks: their
# redaction is cached, and the cache is emptied whenever the registered secrets change.
_CACHED_TEXT = 256


@lru_cache(maxsize=8192)
def _redact_short_text(text: str, generation: int) -> str:
    # `generation` is the cache key's half that names the registered secrets; read them once, and
    # compute only if they are still that generation's (else skip the cache: a change raced us).
    secrets = _registered_now
    if generation != _registered_generation:
        return _redact_text_now(text, _registered_now)
    return _redact_text_now(text, secrets)


def _redact_text_now(text: str, secrets: tuple[str, ...]) -> str:
    text = _redact_registered(text, secrets)
    if _may_hold_credential(text):
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if _HEX_RUN.search(text):
        text = _HEX_KEY.sub(REDACTED, text)
    if len(text.split(None, _MNEMONIC_WORDS - 1)) >= _MNEMONIC_WORDS:
        text = _MNEMONIC.sub(REDACTED, text)
    return text


def _may_hold_credential(text: str) -> bool:
    """Whether ``text`` may hold a ``Bearer``/``Basic`` credential (else :data:`_BEARER` is moot).

    Only ASCII text is ruled out by its lower-case form: the pattern ignores case the Unicode way,
    where the long s (U+017F) matches ``s``.
    """
    if not text.isascii():
        return True
    lowered = text.lower()
    return "bearer" in lowered or "basic" in lowered


def redact(value: Any, _depth: int = 0) -> Any:
    """Return a copy of ``value`` with secrets replaced by ``***``, recursing into containers."""
    if _depth > 20:
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, Mapping) or _is_headers(value):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact(v, _depth + 1) for v in value)
    if isinstance(value, list | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    if type(value).__name__ == "SecretStr":
        return REDACTED
    if isinstance(value, BaseException):
        return _redact_text(repr(value))
    return value


def scrub(value: Any, _depth: int = 0) -> Any:
    """Like :func:`redact`, for data that is stored and read back (events, steps, errors).

    Secret-named fields become ``***`` and secret-shaped text is redacted at any depth, but a
    field named like a public digest (``version``, ``tx_hash``, ``record_id``, ``cid``...) keeps
    its value, minus any registered secret, wherever it sits: a saga resumed from its steps needs
    them exactly.
    """
    if _depth > 20:
        return REDACTED
    # The common values first, by exact type: events and steps are plain JSON data, and the ABC
    # checks below cost more than redacting a (cached) short text.
    kind = type(value)
    if kind is str:
        return _redact_text(value)
    if kind in _UNCHANGED:
        return value
    if kind is dict or isinstance(value, Mapping) or _is_headers(value):
        scrubbed: dict[Any, Any] = {}
        for key, item in value.items():
            secret, digest = _key_kind(key) if isinstance(key, str) else (False, False)
            if secret:
                scrubbed[key] = REDACTED
            elif digest and isinstance(item, str):
                scrubbed[key] = _redact_registered(item)
            else:
                scrubbed[key] = scrub(item, _depth + 1)
        return scrubbed
    if isinstance(value, tuple):
        return tuple(scrub(v, _depth + 1) for v in value)
    if isinstance(value, list | set | frozenset):
        return [scrub(v, _depth + 1) for v in value]
    return redact(value, _depth)


#: Types :func:`redact` returns as they are (``bool`` is an ``int``, but not of type ``int``).
_UNCHANGED = frozenset({int, float, bool, type(None)})


@lru_cache(maxsize=4096)
def _key_kind(key: str) -> tuple[bool, bool]:
    """Whether a field of this name holds a secret, and whether it holds a public digest."""
    return is_secret_key(key), _is_public_digest_key(key)


def _is_headers(value: Any) -> bool:
    # httpx.Headers and similar multi-dicts: mapping-like, but not Mapping subclasses everywhere.
    return hasattr(value, "items") and hasattr(value, "multi_items")


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor that scrubs secrets from an event dict (see module docs)."""
    for key in list(event_dict):
        value = event_dict[key]
        if is_secret_key(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str) and _is_public_digest_key(key):
            # Transaction hashes, record ids and manifest versions have a private key's shape
            # but are public; a registered secret is still scrubbed from them.
            event_dict[key] = _redact_registered(value)
        else:
            event_dict[key] = redact(value)
    return event_dict


class _RedactingLogger:
    """A structlog bound logger that scrubs its key/values before delegating.

    Scrubbing here, rather than in a configured processor, means the library's own events are
    clean whatever processors the host application configured.
    """

    __slots__ = ("_bound", "_inner", "_name")

    def __init__(self, inner: Any, name: str = "minds371", bound: dict[str, Any] | None = None):
        self._inner = inner
        self._name = name
        self._bound = bound or {}

    def bind(self, **values: Any) -> _RedactingLogger:
        """Return a logger with ``values`` (redacted) bound to every later event."""
        scrubbed = _scrub(values)
        return _RedactingLogger(
            self._inner.bind(**scrubbed), self._name, {**self._bound, **scrubbed}
        )

    def _log(self, method: str, event: str, values: dict[str, Any]) -> None:
        if structlog.is_configured():
            # A level the configured filtering logger drops is never scrubbed: the scrub would
            # walk every value of an event nobody receives.
            floor = _FILTERING_FLOORS.get(structlog.get_config()["wrapper_class"])
            if floor is not None and _STDLIB_LEVELS[method] < floor:
                return
            getattr(self._inner, method)(_redact_text(event), **_scrub(values))
            return
        stdlib = logging.getLogger(self._name)
        level = _STDLIB_LEVELS[method]
        # hasHandlers(), not isEnabledFor(): with no handler anywhere, logging's last resort
        # would print warnings to stderr of a host that asked for nothing.
        if stdlib.hasHandlers() and stdlib.isEnabledFor(level):
            facts = {**self._bound, **_scrub(values)}
            text = " ".join([_redact_text(event), *(f"{k}={v!r}" for k, v in facts.items())])
            stdlib.log(level, text, exc_info=method == "exception")

    def debug(self, event: str, **values: Any) -> None:
        """Log at debug level."""
        self._log("debug", event, values)

    def info(self, event: str, **values: Any) -> None:
        """Log at info level."""
        self._log("info", event, values)

    def warning(self, event: str, **values: Any) -> None:
        """Log at warning level."""
        self._log("warning", event, values)

    def error(self, event: str, **values: Any) -> None:
        """Log at error level."""
        self._log("error", event, values)

    def exception(self, event: str, **values: Any) -> None:
        """Log at error level with the current exception's traceback."""
        self._log("exception", event, values)


_STDLIB_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
}
#: structlog's filtering wrapper classes (``make_filtering_bound_logger``) and their minimum level.
_FILTERING_FLOORS: dict[Any, int] = {
    structlog.make_filtering_bound_logger(level): level
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}


def _scrub(values: dict[str, Any]) -> dict[str, Any]:
    return dict(redact_secrets(None, "", dict(values)))


def get_logger(name: str = "minds371", **initial: Any) -> _RedactingLogger:
    """Return the library's logger: a structlog logger whose events are always redacted.

    Event names are dotted (``"minds371.task.failed"``), with key/values for the facts.
    """
    scrubbed = _scrub(initial)
    return _RedactingLogger(structlog.get_logger(name, **scrubbed), name, scrubbed)


#: Events the ``minds371`` command reports to its user itself, in words, at the end of the
#: command: logging them too would say the same failure twice (at INFO and below they still show).
_SAID_BY_THE_COMMAND = frozenset({"minds371.task.failed"})


def _drop_said_by_the_command(level: int) -> Any:
    def processor(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if level > logging.INFO and event_dict.get("event") in _SAID_BY_THE_COMMAND:
            raise structlog.DropEvent
        return event_dict

    return processor


class _PersonRenderer:
    """A terminal's renderer that says a sentence when an event carries one.

    An event with ``say`` (a sentence for the person at the terminal) is printed as
    ``level: sentence``; any other event as structlog's console line.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        said = event_dict.get("say")
        if isinstance(said, str) and said:
            return f"{event_dict.get('level', method)}: {said}"
        return self._inner(logger, method, event_dict)


def configure_cli_logging(level: str = "WARNING", *, json: bool = False) -> None:
    """Configure structlog and stdlib logging for the ``minds371`` command (stderr only).

    Only the CLI calls this; the library leaves global logging configuration to its host.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.WARNING)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else _PersonRenderer(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    )
    # JSON lines carry a timestamp for machines; a person at a terminal reads the level and the
    # event between the command's own lines, which carry the time where it matters.
    stamp: list[Any] = [structlog.processors.TimeStamper(fmt="iso", utc=True)] if json else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _drop_said_by_the_command(numeric),
            structlog.processors.add_log_level,
            *stamp,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: a logger bound under one configuration must follow a later one.
        cache_logger_on_first_use=False,
    )
