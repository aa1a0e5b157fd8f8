from __future__ import annotations

import httpx
import structlog
from structlog.testing import capture_logs

from minds371 import AgentRuntime, MemoryStateStore, Task
from minds371.logging import get_logger, redact, register_secret

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
