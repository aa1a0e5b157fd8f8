from __future__ import annotations

import json
import logging
import sys
from decimal import Decimal
from enum import StrEnum

import httpx
import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from minds371 import AgentRuntime, MemoryStateStore, Task, TaskStatus
from minds371.logging import (
    configure_cli_logging,
    get_logger,
    redact,
    redact_secrets,
    register_secret,
    register_secrets_in,
    reset_registered_secrets,
    scrub,
    secrets_generation,
)
from minds371.state._scrub import new_event, scrub_event

API_KEY = "ak-live-3f9a8b7c6d5e4f3a2b1c"
MNEMONIC = "abandon ability able about above absent absorb abstract absurd abuse access accident"
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def flatten(entries: object) -> str:
    return repr(entries)


def test_secret_fields_headers_and_values_never_reach_a_log_line() -> None:
    log = get_logger("minds371.test")
    with capture_logs() as logs:
        log.info("minds371.test.request", api_key=API_KEY, headers={"x-api-key": API_KEY})
        log.info(
            "minds371.test.headers",
            headers=httpx.Headers({"Authorization": f"Bearer {API_KEY}", "Accept": "json"}),
        )
        log.info("minds371.test.payload", payload={"wallet": {"mnemonic": MNEMONIC}})
        log.warning("minds371.test.text", message=f"key {PRIVATE_KEY} and words {MNEMONIC}")
        log.bind(private_key=PRIVATE_KEY).error("minds371.test.bound")
    text = flatten(logs)
    for secret in (API_KEY, MNEMONIC, PRIVATE_KEY):
        assert secret not in text
    assert "'accept': 'json'" in text  # ordinary fields survive


def test_registered_secrets_are_redacted_inside_free_text() -> None:
    register_secret("s3cr3t-token-value")
    assert redact("the value s3cr3t-token-value leaked") == "the value *** leaked"


async def test_a_secret_in_a_task_payload_does_not_reach_the_logs() -> None:
    class Leaky:
        agent_type = "leaky"

        async def process_task(self, task: Task) -> dict[str, object]:
            raise RuntimeError(f"refused key {task.payload['api_key']}")

    structlog.reset_defaults()
    with capture_logs() as logs:
        runtime = AgentRuntime(store=MemoryStateStore(), load_plugins=False)
        runtime.register_agent(Leaky())
        async with runtime:
            handle = await runtime.dispatch(Task(agent_type="leaky", payload={"api_key": API_KEY}))
            result = await handle.result()
    assert logs, "the failure was logged"
    assert API_KEY not in flatten(logs)
    # Results go to other agents: they are scrubbed too.
    assert result.error is not None and API_KEY not in result.error.message


def test_public_digests_stay_readable_while_keys_are_redacted() -> None:
    tx = "0x" + "ab" * 32
    log = get_logger("minds371.test")
    with capture_logs() as logs:
        log.info("minds371.test.published", tx=tx, record_id=tx, version="cd" * 32, note=tx)
    (entry,) = logs
    assert entry["tx"] == tx
    assert entry["record_id"] == tx
    assert entry["version"] == "cd" * 32
    assert entry["note"] == "***"  # free text of that shape may be a key


# -- secrets that only their shape gives away, in free text ----------------------------------------

# Neither hex nor mnemonic-shaped, never registered: only the `Bearer`/`Basic` rule can catch it.
OPAQUE_TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.Zm9v"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Basic"])
def test_an_authorization_credential_in_free_text_is_redacted(scheme: str) -> None:
    text = f"POST failed; sent Authorization: {scheme} {OPAQUE_TOKEN} to the API"
    assert redact(text) == f"POST failed; sent Authorization: {scheme} *** to the API"


@pytest.mark.parametrize(
    ("secret", "shape"),
    [
        (f"Bearer {OPAQUE_TOKEN}", "Bearer ***"),
        (PRIVATE_KEY, "***"),
        (PRIVATE_KEY[2:], "***"),
        (MNEMONIC, "***"),
    ],
    ids=["bearer", "hex-key", "bare-hex-key", "mnemonic"],
)
def test_each_secret_shape_is_redacted_from_event_names_and_untagged_fields(
    secret: str, shape: str
) -> None:
    log = get_logger("minds371.test")
    with capture_logs() as logs:
        log.warning(f"minds371.test.failed [{secret}]", detail=f"got ({secret})", n=[secret])
    (entry,) = logs
    assert entry["event"] == f"minds371.test.failed [{shape}]"
    assert entry["detail"] == f"got ({shape})"
    assert entry["n"] == [shape]


# -- fields named like public digests --------------------------------------------------------------

REGISTERED = "wallet-passphrase-42"


@pytest.mark.parametrize(
    "field",
    ["tx", "txhash", "tx_hash", "hash", "digest", "record_id", "version", "manifest_hash", "cid",
     "entry_hash", "deploy_tx", "group-version"],
)  # fmt: skip
def test_a_registered_secret_is_scrubbed_from_digest_named_fields(field: str) -> None:
    register_secret(REGISTERED)
    log = get_logger("minds371.test")
    with capture_logs() as logs:
        log.info("minds371.test.published", **{field: f"0x{REGISTERED}"})
    (entry,) = logs
    assert entry[field] == "0x***"


def test_a_registered_secret_is_scrubbed_by_the_host_processor_too() -> None:
    register_secret(REGISTERED)
    event = {"event": "x", "version": REGISTERED, "other": {"deep": [REGISTERED]}}
    assert redact_secrets(None, "info", event) == {
        "event": "x",
        "version": "***",
        "other": {"deep": ["***"]},
    }


def test_registered_secrets_are_forgotten_between_tests() -> None:
    # Registered by the tests above; the suite's autouse fixture resets the set per test, so a
    # redaction test can only pass on what it registers itself.
    assert redact(f"x {REGISTERED} s3cr3t-token-value") == f"x {REGISTERED} s3cr3t-token-value"


def test_a_secret_registered_after_a_text_was_redacted_is_redacted_from_it_next_time() -> None:
    text = "the value late-registered-secret leaked"
    assert redact(text) == text  # redacted once before the secret was known
    register_secret("late-registered-secret")
    assert redact(text) == "the value *** leaked"


def test_reset_registered_secrets_forgets_every_value() -> None:
    register_secret("forget-me-please")
    assert redact("forget-me-please") == "***"
    reset_registered_secrets()
    assert redact("forget-me-please") == "forget-me-please"


# -- every container, every depth -----------------------------------------------------------------


def nested(levels: int, leaf: object, wrap: str) -> object:
    """``leaf`` inside ``levels`` containers of one kind."""
    value = leaf
    for _ in range(levels):
        value = {"k": value} if wrap == "dict" else (value,) if wrap == "tuple" else [value]
    return value


def test_secret_field_values_become_exactly_the_marker() -> None:
    log = get_logger("minds371.test")
    with capture_logs() as logs:
        log.info("minds371.test.keys", api_key=API_KEY, nested={"password": "pw-123456"})
    (entry,) = logs
    assert entry["api_key"] == "***"
    assert entry["nested"] == {"password": "***"}


def test_every_kind_of_container_is_redacted() -> None:
    assert redact(("a", PRIVATE_KEY)) == ("a", "***")
    assert redact(["a", PRIVATE_KEY]) == ["a", "***"]
    assert redact({PRIVATE_KEY}) == ["***"]
    assert redact(frozenset({PRIVATE_KEY})) == ["***"]
    assert redact({"a": (["b", {"token": "t0k3n-value"}],)}) == {"a": (["b", {"token": "***"}],)}


def test_secret_values_and_exceptions_are_redacted_other_objects_kept() -> None:
    assert redact(SecretStr("hunter2-password")) == "***"
    assert redact(RuntimeError(f"bad key {PRIVATE_KEY}")) == "RuntimeError('bad key ***')"
    marker = object()
    assert redact(marker) is marker
    assert redact(5) == 5 and redact(None) is None and redact(Decimal("1.5")) == Decimal("1.5")


class MultiDict:
    """A multi-dict that is not a ``Mapping`` (as some HTTP libraries' header types are)."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = pairs

    def items(self) -> list[tuple[str, str]]:
        return list(self.pairs)

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self.pairs)


def test_header_multidicts_are_redacted_like_mappings() -> None:
    headers = MultiDict(("x-api-key", API_KEY), ("accept", "json"))
    assert redact(headers) == {"x-api-key": "***", "accept": "json"}
    only_items = type("OnlyItems", (), {"items": lambda self: [("x-api-key", API_KEY)]})()
    assert redact(only_items) is only_items  # not a multi-dict: left alone


@pytest.mark.parametrize("wrap", ["list", "tuple", "dict"])
def test_values_twenty_levels_deep_are_kept_and_deeper_ones_redacted_whole(wrap: str) -> None:
    # The walk stops past 20 levels (a hostile or cyclic structure cannot exhaust the stack).
    assert redact(nested(20, "visible", wrap)) == nested(20, "visible", wrap)
    assert redact(nested(21, "visible", wrap)) == nested(21, "***", wrap)


# -- what gets registered --------------------------------------------------------------------------


def test_register_secrets_in_finds_secret_keys_at_any_depth_and_nothing_else() -> None:
    register_secrets_in(
        {
            "name": "public-name-xyz",
            "wallet": [{"mnemonic": "nested-secret-1"}],
            "auth": ({"password": "tuple-secret-2"},),
            "api_key": {"not": "a string-value"},
        }
    )
    assert redact("nested-secret-1 tuple-secret-2") == "*** ***"
    assert redact("public-name-xyz a string-value") == "public-name-xyz a string-value"


@pytest.mark.parametrize("wrap", ["list", "tuple", "dict"])
def test_register_secrets_in_stops_past_twenty_levels(wrap: str) -> None:
    register_secrets_in(nested(20, {"api_key": "deep-secret-20"}, wrap))
    register_secrets_in(nested(21, {"api_key": "deep-secret-21"}, wrap))
    assert redact("deep-secret-20 deep-secret-21") == "*** deep-secret-21"


def test_register_secret_ignores_values_shorter_than_six_characters() -> None:
    register_secret("abcdef")
    register_secret("vwxyz")
    assert redact("abcdef vwxyz") == "*** vwxyz"


# -- the logger itself -----------------------------------------------------------------------------


def test_values_bound_when_the_logger_is_made_are_redacted() -> None:
    log = get_logger("minds371.test", api_key=API_KEY, note=f"k {PRIVATE_KEY}")
    with capture_logs() as logs:
        log.info("minds371.test.initial")
    (entry,) = logs
    assert entry["api_key"] == "***" and entry["note"] == "k ***"


def test_debug_and_exception_events_are_redacted_too() -> None:
    log = get_logger("minds371.test")
    with capture_logs() as logs:
        log.debug("minds371.test.debug", api_key=API_KEY)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception(f"minds371.test.failed [{PRIVATE_KEY}]", token="t0k3n-value")
    assert logs == [
        {"event": "minds371.test.debug", "api_key": "***", "log_level": "debug"},
        {
            "event": "minds371.test.failed [***]",
            "token": "***",
            "exc_info": True,
            "log_level": "error",
        },
    ]


def test_debug_events_are_dropped_while_the_host_has_not_configured_structlog(
    capsys: pytest.CaptureFixture[str],
) -> None:
    structlog.reset_defaults()
    get_logger("minds371.test").debug("minds371.test.noise")
    assert capsys.readouterr() == ("", "")


def test_cli_logging_writes_redacted_json_lines_to_stderr_at_its_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_cli_logging("info", json=True)
    log = get_logger("minds371.test")
    log.debug("minds371.test.hidden")
    log.info("minds371.test.shown", api_key=API_KEY, tx="0x" + "ab" * 32)
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    entry = json.loads(line)
    assert entry["event"] == "minds371.test.shown"
    assert entry["level"] == "info"
    assert entry["api_key"] == "***"
    assert entry["tx"] == "0x" + "ab" * 32
    assert entry["timestamp"].endswith("Z")


def test_cli_logging_at_a_terminal_says_a_sentence_an_event_carries_and_redacts_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_secret(API_KEY)
    configure_cli_logging("WARNING")
    log = get_logger("minds371.test")
    log.warning("minds371.test.said", say=f"the key {API_KEY} was not used", path="/x")
    log.warning("minds371.test.plain", path="/y")
    said, plain = capsys.readouterr().err.splitlines()
    assert said == "warning: the key *** was not used"
    assert "minds371.test.plain" in plain and "/y" in plain


def test_cli_logging_defaults_to_warnings_and_reads_unknown_levels_as_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for level in ("WARNING", "no-such-level"):
        configure_cli_logging(level, json=True)
        log = get_logger("minds371.test")
        log.info("minds371.test.quiet")
        log.warning("minds371.test.loud")
        lines = capsys.readouterr().err.splitlines()
        assert [json.loads(line)["event"] for line in lines] == ["minds371.test.loud"]


def test_cli_logging_renders_for_people_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_cli_logging("INFO")
    get_logger("minds371.test").info("minds371.test.plain", api_key=API_KEY)
    err = capsys.readouterr().err
    assert "minds371.test.plain" in err and API_KEY not in err
    assert not err.lstrip().startswith("{")


def test_the_logger_name_reaches_a_stdlib_host(caplog: pytest.LogCaptureFixture) -> None:
    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer()],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    with caplog.at_level(logging.INFO):
        get_logger("minds371.test.named").info("minds371.test.one", api_key=API_KEY)
        get_logger().info("minds371.test.two")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("minds371.test.named", "api_key='***' event='minds371.test.one'"),
        ("minds371", "event='minds371.test.two'"),
    ]


def test_a_logger_made_before_the_cli_configures_logging_follows_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = get_logger("minds371.test")
    configure_cli_logging("WARNING", json=True)
    log.info("minds371.test.before")
    configure_cli_logging("INFO", json=True)
    log.info("minds371.test.after")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["minds371.test.after"]


# -- long texts (not cached) and the values scrub passes by type -----------------------------------

# Longer than the texts whose redaction is cached: each shape's pattern runs on them every time.
FILLER = '{"name":"web","image":"nginx:1.27","env":["A=1"]},' * 8


@pytest.mark.parametrize(
    ("secret", "shape"),
    [
        (f"Bearer {OPAQUE_TOKEN}", "Bearer ***"),
        (f"BASIC {OPAQUE_TOKEN}", "BASIC ***"),
        # A long s is an ``s`` to the pattern's Unicode case folding: non-ASCII text is always
        # searched.
        (f"Ba\u017fic {OPAQUE_TOKEN}", "Ba\u017fic ***"),
        (PRIVATE_KEY, "***"),
        (PRIVATE_KEY[2:], "***"),
        (MNEMONIC, "***"),
        (MNEMONIC.replace(" ", "\n"), "***"),
    ],
    ids=["bearer", "basic-upper", "basic-long-s", "hex-key", "bare-hex-key", "mnemonic", "lines"],
)
def test_each_secret_shape_is_redacted_from_a_long_text(secret: str, shape: str) -> None:
    text = f"{FILLER} [{secret}] {FILLER}"
    assert len(text) > 256
    assert redact(text) == f"{FILLER} [{shape}] {FILLER}"
    assert scrub({"detail": text}) == {"detail": f"{FILLER} [{shape}] {FILLER}"}


def test_a_twelve_word_mnemonic_alone_in_a_long_text_is_redacted() -> None:
    # Exactly twelve words: as few as a mnemonic has (the long gaps make the text uncached).
    text = (" " * 30).join(MNEMONIC.split())
    assert len(text) > 256
    assert redact(text) == "***"


def test_long_texts_without_a_secret_shape_are_kept() -> None:
    text = f"{FILLER} sha256:{PRIVATE_KEY[2:]} eleven words are not a mnemonic at all, so they stay"
    assert redact(text) == text


class Field(StrEnum):
    API_KEY = "api_key"
    VERSION = "version"


def test_scrub_treats_subclasses_of_plain_types_as_their_bases() -> None:
    register_secret(REGISTERED)
    data = {
        Field.API_KEY: "kept-out",
        Field.VERSION: f"{PRIVATE_KEY}/{REGISTERED}",
        "note": Field.API_KEY,
        "flags": [True, 1, 1.5, None],
    }
    assert scrub(data) == {
        Field.API_KEY: "***",
        Field.VERSION: f"{PRIVATE_KEY}/***",
        "note": "api_key",
        "flags": [True, 1, 1.5, None],
    }
    assert scrub(RuntimeError(PRIVATE_KEY)) == "RuntimeError('***')"


def test_scrub_redacts_the_values_of_fields_that_are_not_named_by_text() -> None:
    # A key that is not text names no secret and no digest: its value is scrubbed as any other.
    assert scrub({1: PRIVATE_KEY, None: "kept", (2, "api_key"): "kept"}) == {
        1: "***",
        None: "kept",
        (2, "api_key"): "kept",
    }


def test_scrub_redacts_every_kind_of_container_as_redact_does() -> None:
    from types import MappingProxyType

    assert scrub(("a", PRIVATE_KEY)) == ("a", "***")
    assert scrub(["a", PRIVATE_KEY]) == ["a", "***"]
    assert scrub({PRIVATE_KEY}) == ["***"]
    assert scrub(frozenset({PRIVATE_KEY})) == ["***"]
    assert scrub({"a": (["b", {"token": "t0k3n-value"}],)}) == {"a": (["b", {"token": "***"}],)}
    assert scrub(MappingProxyType({"api_key": "k", "n": PRIVATE_KEY})) == {
        "api_key": "***",
        "n": "***",
    }
    headers = MultiDict(("x-api-key", API_KEY), ("accept", "json"))
    assert scrub(headers) == {"x-api-key": "***", "accept": "json"}
    assert scrub(SecretStr("hunter2-password")) == "***"
    # Digest-named fields keep their value in every kind of mapping (redact would not).
    digest = "ab" * 32
    assert scrub(MultiDict(("tx_hash", digest))) == {"tx_hash": digest}
    assert scrub(MappingProxyType({"version": digest})) == {"version": digest}


@pytest.mark.parametrize("wrap", ["list", "tuple", "dict"])
def test_scrub_keeps_values_twenty_levels_deep_and_redacts_deeper_ones_whole(wrap: str) -> None:
    assert scrub(nested(20, "visible", wrap)) == nested(20, "visible", wrap)
    assert scrub(nested(21, "visible", wrap)) == nested(21, "***", wrap)
    assert scrub(nested(19, ["visible"], wrap)) == nested(19, ["visible"], wrap)
    assert scrub(nested(20, ["visible"], wrap)) == nested(20, ["***"], wrap)


# -- a registered secret cut off at either end of a text ---------------------------------------

CUT_SECRET = "cut-secret-0123456789"  # 21 characters


@pytest.mark.parametrize("size", [8, 9, 10, 19, 20])
def test_a_secret_cut_off_at_the_end_of_a_text_is_redacted(size: int) -> None:
    # An error body truncated mid-key ends with the key's first characters.
    register_secret(CUT_SECRET)
    assert redact(f"error body: {CUT_SECRET[:size]}") == "error body: ***"


@pytest.mark.parametrize("size", [8, 9, 10, 19, 20])
def test_a_secret_cut_off_at_the_start_of_a_text_is_redacted(size: int) -> None:
    register_secret(CUT_SECRET)
    assert redact(f"{CUT_SECRET[-size:]} was the tail") == "*** was the tail"


def test_a_text_cut_through_a_secret_at_both_ends_loses_both_pieces() -> None:
    register_secret(CUT_SECRET)
    text = f"{CUT_SECRET[-12:]} middle {CUT_SECRET[:11]}"
    assert redact(text) == "*** middle ***"
    assert scrub({"detail": text}) == {"detail": "*** middle ***"}


def test_a_piece_shorter_than_eight_characters_at_an_end_is_kept() -> None:
    # Seven characters would match ordinary words; the whole secret in the text is still redacted.
    register_secret(CUT_SECRET)
    assert redact(f"{CUT_SECRET} then {CUT_SECRET[:7]}") == f"*** then {CUT_SECRET[:7]}"
    assert redact(f"{CUT_SECRET[-7:]} then {CUT_SECRET}") == f"{CUT_SECRET[-7:]} then ***"
    assert redact(f"{CUT_SECRET[:8]}x {CUT_SECRET[:7]}") == f"{CUT_SECRET[:8]}x {CUT_SECRET[:7]}"
    assert (
        redact(f"{CUT_SECRET[-7:]} x{CUT_SECRET[-8:]}") == f"{CUT_SECRET[-7:]} x{CUT_SECRET[-8:]}"
    )


def test_a_cut_piece_in_a_long_text_is_redacted() -> None:
    register_secret(CUT_SECRET)
    text = f"{CUT_SECRET[-9:]} {FILLER}{CUT_SECRET[:9]}"
    assert len(text) > 256
    assert redact(text) == f"*** {FILLER}***"


# -- the forms a secret takes inside JSON text -------------------------------------------------

# A quote, a backslash, a non-ASCII letter and Go's HTML-escaped characters.
ODD_SECRET = 'p\u00e4ss"w\\rd<&>-0042'


def go_json(value: str) -> str:
    """``value`` as Go's encoding/json writes it inside a string (HTML characters escaped)."""
    plain = json.dumps(value, ensure_ascii=False)[1:-1]
    return plain.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@pytest.mark.parametrize(
    "form",
    [
        ODD_SECRET,
        json.dumps(ODD_SECRET, ensure_ascii=False)[1:-1],
        json.dumps(ODD_SECRET)[1:-1],
        go_json(ODD_SECRET),
    ],
    ids=["raw", "json-unicode", "json-ascii", "go-json"],
)
def test_a_registered_secret_is_redacted_in_each_form_json_text_gives_it(form: str) -> None:
    register_secret(ODD_SECRET)
    body = f'{{"error": "bad key", "env": "KEY={form}", "n": 1}}'
    assert redact(body) == '{"error": "bad key", "env": "KEY=***", "n": 1}'


@pytest.mark.parametrize("char", ["<", ">", "&"])
def test_a_secret_with_one_html_character_is_redacted_from_go_json(char: str) -> None:
    secret = f"html{char}secret-77"
    register_secret(secret)
    body = json.dumps({"env": f"KEY={secret}"})  # Python's form: the character as it is
    go_body = body.replace(char, {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}[char])
    assert redact(f"{go_body} end") == '{"env": "KEY=***"} end'


def test_a_non_ascii_secret_is_redacted_from_json_written_either_way() -> None:
    secret = "gr\u00fc\u00dfe-secret"
    register_secret(secret)
    assert redact(f"a {json.dumps(secret)} b") == 'a "***" b'
    assert redact(f"a {json.dumps(secret, ensure_ascii=False)} b") == 'a "***" b'


# -- registering after a reset -------------------------------------------------------------------


def test_a_secret_registered_after_a_reset_is_redacted_from_a_text_seen_before_it() -> None:
    # What was redacted before a reset must not be served as clean once a secret is registered
    # again, however often the set was emptied and refilled.
    text = "the value twice-registered-key leaked"
    reset_registered_secrets()
    register_secret("some-other-secret")
    assert redact(text) == text
    reset_registered_secrets()
    register_secret("twice-registered-key")
    assert redact(text) == "the value *** leaked"


def test_secrets_registered_one_after_another_are_all_redacted_from_a_text_seen_before() -> None:
    text = "keys first-secret-aaa and second-secret-bbb"
    assert redact(text) == text
    register_secret("first-secret-aaa")
    assert redact(text) == "keys *** and second-secret-bbb"
    register_secret("second-secret-bbb")
    assert redact(text) == "keys *** and ***"


def test_the_secrets_generation_never_repeats_across_registrations_and_resets() -> None:
    # Stored data scrubbed under one generation is trusted as clean under it: a generation seen
    # before must never come back with other secrets.
    seen = [secrets_generation()]
    for step in range(3):
        register_secret(f"generation-secret-{step}")
        seen.append(secrets_generation())
        register_secret(f"generation-other-{step}")
        seen.append(secrets_generation())
        reset_registered_secrets()
        seen.append(secrets_generation())
    assert len(set(seen)) == len(seen)
    register_secret("generation-other-2")
    same = secrets_generation()
    register_secret("generation-other-2")  # nothing new: stored data stays clean
    assert secrets_generation() == same


def test_an_event_scrubbed_before_a_reset_is_scrubbed_again_for_a_secret_registered_after() -> None:
    event = new_event("t1", 1, "minds371.task.note", TaskStatus.RUNNING, "key late-event-key", {})
    assert event.message == "key late-event-key"
    reset_registered_secrets()
    register_secret("late-event-key")
    assert scrub_event(event).message == "key ***"


# -- a host that configured only the standard logging module ------------------------------------


@pytest.mark.parametrize(
    ("method", "level"),
    [
        ("debug", logging.DEBUG),
        ("info", logging.INFO),
        ("warning", logging.WARNING),
        ("error", logging.ERROR),
    ],
)
def test_a_stdlib_host_gets_each_level_redacted_with_the_bound_facts(
    caplog: pytest.LogCaptureFixture, method: str, level: int
) -> None:
    log = get_logger("minds371.test.host", run="r1", api_key=API_KEY)
    bound = log.bind(who="agent", token="t0k3n-value")
    with caplog.at_level(logging.DEBUG, logger="minds371.test.host"):
        getattr(bound, method)(f"minds371.test.event [{PRIVATE_KEY}]", n=1, password="pw-123456")
    (record,) = caplog.records
    assert record.name == "minds371.test.host"
    assert record.levelno == level
    assert not record.exc_info  # no traceback attached
    assert record.getMessage() == (
        "minds371.test.event [***] run='r1' api_key='***' who='agent' token='***' n=1"
        " password='***'"
    )


def test_a_stdlib_host_gets_an_exception_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = get_logger("minds371.test.host")
    with caplog.at_level(logging.INFO, logger="minds371.test.host"):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("minds371.test.failed", api_key=API_KEY)
    (record,) = caplog.records
    assert (record.name, record.levelno) == ("minds371.test.host", logging.ERROR)
    assert record.getMessage() == "minds371.test.failed api_key='***'"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert API_KEY not in caplog.text


def test_a_stdlib_host_below_the_level_hears_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="minds371.test.host"):
        get_logger("minds371.test.host").info("minds371.test.quiet")
    assert caplog.records == []


def test_a_host_without_any_logging_handler_hears_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a handler anywhere, the standard library's last resort would print warnings to
    # the host's stderr.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    get_logger("minds371.test").warning("minds371.test.loud", api_key=API_KEY)
    assert capsys.readouterr() == ("", "")


# -- the command's own logging ---------------------------------------------------------------------


def test_cli_logging_leaves_a_task_failure_to_the_command_above_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_cli_logging("WARNING", json=True)
    get_logger("minds371.test").error("minds371.task.failed", task="t1")
    get_logger("minds371.test").error("minds371.test.other")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["minds371.test.other"]
    configure_cli_logging("INFO", json=True)
    get_logger("minds371.test").error("minds371.task.failed", task="t1")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["minds371.task.failed"]


def test_cli_logging_says_an_exceptions_sentence_at_error_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_cli_logging("WARNING")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("minds371.test").exception("minds371.test.failed", say="the deploy failed")
    assert capsys.readouterr().err.splitlines()[0] == "error: the deploy failed"


def test_cli_logging_renders_an_empty_sentence_as_the_plain_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_cli_logging("WARNING")
    get_logger("minds371.test").warning("minds371.test.plain", say="")
    (line,) = capsys.readouterr().err.splitlines()
    assert "minds371.test.plain" in line and not line.startswith("warning: ")


def test_cli_logging_for_people_carries_no_timestamp(capsys: pytest.CaptureFixture[str]) -> None:
    configure_cli_logging("WARNING")
    get_logger("minds371.test").warning("minds371.test.plain")
    (line,) = capsys.readouterr().err.splitlines()
    assert "minds371.test.plain" in line
    assert not any(ch.isdigit() for ch in line.split("minds371.test.plain")[0])


def test_a_logger_used_under_one_cli_configuration_follows_the_next(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = get_logger("minds371.test")
    configure_cli_logging("WARNING", json=True)
    log.warning("minds371.test.first")
    configure_cli_logging("INFO", json=True)
    log.info("minds371.test.second")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == [
        "minds371.test.first",
        "minds371.test.second",
    ]


def test_cli_logging_colours_its_lines_only_at_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_cli_logging("WARNING")
    get_logger("minds371.test").warning("minds371.test.plain")
    assert "\x1b[" not in capsys.readouterr().err  # a file or a pipe gets no escape codes
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    configure_cli_logging("WARNING")
    get_logger("minds371.test").warning("minds371.test.plain", api_key=API_KEY)
    err = capsys.readouterr().err
    assert "\x1b[" in err and "minds371.test.plain" in err and API_KEY not in err
