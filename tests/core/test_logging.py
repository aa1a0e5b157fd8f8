from __future__ import annotations

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from minds371 import AgentRuntime, MemoryStateStore, Task
from minds371.logging import (
    get_logger,
    redact,
    redact_secrets,
    register_secret,
    reset_registered_secrets,
)

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


def test_reset_registered_secrets_forgets_every_value() -> None:
    register_secret("forget-me-please")
    assert redact("forget-me-please") == "***"
    reset_registered_secrets()
    assert redact("forget-me-please") == "forget-me-please"
