"""The saga's records in-process: what each step says, and what a later attempt reads back.

The crash-and-reconcile tests (``test_recovery.py``) prove the saga across real processes; these
pin the folding of steps into :class:`SagaState` and the records the journals write, one rule at
a time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from minds371.agent import TaskContext
from minds371.state import SagaStep
from minds371.state.memory import MemoryStateStore
from minds371.tasks import Task
from minds371_akash.market import Lease, LeaseId, Price
from minds371_deploy.saga import ReplicaJournal, ReplicaState, SagaJournal, SagaState

OWNER = "akash1owner"


def steps(*named: tuple[str, dict[str, Any]]) -> list[SagaStep]:
    return [
        SagaStep(task_id="t", seq=i, name=name, data=data, at=datetime(2026, 1, i, tzinfo=UTC))
        for i, (name, data) in enumerate(named, start=1)
    ]


def state(*named: tuple[str, dict[str, Any]]) -> SagaState:
    return SagaState.from_steps(steps(*named))


INTENT = ("deployment.create_intent", {"version": "v1"})
CREATED = ("deployment.created", {"dseq": 42, "version": "rv1", "manifest": "m1"})


# -- the deployment itself -------------------------------------------------------------------


def test_no_steps_mean_nothing_was_done() -> None:
    empty = SagaState.from_steps([])
    assert empty == SagaState()
    assert (empty.version, empty.dseq, empty.manifest, empty.recorded_version) == (None,) * 4
    assert (empty.leased, empty.closed, empty.output, empty.finalized_at) == ([], None, None, None)
    assert (empty.attempts_with_intent, empty.replicas) == (0, {})
    assert empty.open_dseq is None
    assert empty.open_replicas() == {}


def test_an_intent_records_the_version_and_counts_the_attempt() -> None:
    s = state(INTENT)
    assert (s.version, s.attempts_with_intent, s.dseq, s.open_dseq) == ("v1", 1, None, None)


def test_a_created_deployment_is_open_with_its_manifest_and_recorded_version() -> None:
    s = state(INTENT, ("deployment.created", {"dseq": "42", "version": "rv1", "manifest": "m1"}))
    assert (s.dseq, s.open_dseq) == (42, 42)
    assert (s.version, s.recorded_version, s.manifest) == ("v1", "rv1", "m1")


def test_a_create_without_manifest_or_version_leaves_them_unknown() -> None:
    s = state(INTENT, ("deployment.created", {"dseq": 7, "version": "", "manifest": ""}))
    assert (s.dseq, s.manifest, s.recorded_version) == (7, None, None)
    s = state(INTENT, ("deployment.created", {"dseq": 7}))
    assert (s.dseq, s.manifest, s.recorded_version) == (7, None, None)


def test_an_update_of_this_deployment_replaces_manifest_and_version() -> None:
    update = ("deployment.updated", {"dseq": "42", "version": "rv2", "manifest": "m2"})
    s = state(INTENT, CREATED, update)
    assert (s.manifest, s.recorded_version) == ("m2", "rv2")


def test_an_update_of_another_deployment_is_ignored() -> None:
    update = ("deployment.updated", {"dseq": 43, "version": "rv2", "manifest": "m2"})
    s = state(INTENT, CREATED, update)
    assert (s.manifest, s.recorded_version) == ("m1", "rv1")


def test_leased_providers_accumulate() -> None:
    s = state(
        INTENT,
        CREATED,
        ("lease.intent", {"dseq": 42, "bids": []}),
        ("lease.created", {"dseq": 42, "providers": ["akash1a"]}),
        ("lease.created", {"dseq": 42}),
        ("lease.created", {"dseq": 42, "providers": ["akash1b", "akash1c"]}),
    )
    assert s.leased == ["akash1a", "akash1b", "akash1c"]
    assert s.open_dseq == 42


def test_a_closed_deployment_is_no_longer_open_and_says_why() -> None:
    s = state(INTENT, CREATED, ("deployment.closed", {"dseq": 42, "reason": "no bids"}))
    assert (s.closed, s.dseq, s.open_dseq) == ("no bids", 42, None)
    assert state(INTENT, CREATED, ("deployment.closed", {"dseq": 42})).closed == "closed"


def test_a_new_intent_after_a_close_starts_afresh() -> None:
    s = state(
        INTENT,
        CREATED,
        ("lease.created", {"dseq": 42, "providers": ["akash1a"]}),
        ("replica.create_intent", {"replica": 2, "version": "v1"}),
        ("deployment.closed", {"dseq": 42, "reason": "failed"}),
        ("deployment.create_intent", {"version": "v2"}),
    )
    assert (s.version, s.attempts_with_intent) == ("v2", 2)
    assert (s.dseq, s.leased, s.closed, s.manifest, s.recorded_version) == (
        None,
        [],
        None,
        None,
        None,
    )
    assert s.replicas == {}


def test_a_new_intent_while_open_keeps_the_deployment() -> None:
    s = state(
        INTENT,
        CREATED,
        ("lease.created", {"dseq": 42, "providers": ["akash1a"]}),
        ("deployment.create_intent", {"version": "v2"}),
    )
    assert (s.version, s.attempts_with_intent) == ("v2", 2)
    assert (s.dseq, s.manifest, s.recorded_version, s.leased) == (42, "m1", "rv1", ["akash1a"])


def test_finalized_keeps_the_output_and_when() -> None:
    s = state(INTENT, CREATED, ("deployment.finalized", {"output": {"dseq": 42}}))
    assert s.output == {"dseq": 42}
    assert s.finalized_at == datetime(2026, 1, 3, tzinfo=UTC)
    assert s.open_dseq == 42  # finalizing does not close


# -- extra replicas --------------------------------------------------------------------------


def replica(n: int, name: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return (f"replica.{name}", {"replica": n, **data})


def test_a_replicas_steps_fold_into_its_own_state() -> None:
    s = state(
        INTENT,
        CREATED,
        replica(2, "create_intent", version="v1"),
        replica(2, "created", dseq="50", version="rv1", manifest="r1"),
        replica(2, "leased", dseq=50, providers=["akash1b"]),
        replica(2, "updated", dseq=50, version="rv2", manifest="r2"),
    )
    assert s.replicas == {2: ReplicaState(version="rv1", dseq=50, manifest="r2", closed=None)}
    assert s.open_replicas() == {2: 50}
    assert (s.dseq, s.manifest) == (42, "m1")  # the first deployment is untouched


def test_a_replica_create_without_version_keeps_the_intents() -> None:
    s = state(replica(3, "create_intent", version="v1"), replica(3, "created", dseq=51))
    assert s.replicas[3] == ReplicaState(version="v1", dseq=51, manifest=None)
    s = state(replica(3, "created", dseq=51, version="", manifest=""))
    assert s.replicas[3] == ReplicaState(version=None, dseq=51, manifest=None)


def test_a_replicas_update_or_close_of_another_dseq_is_ignored() -> None:
    s = state(
        replica(2, "created", dseq=50, manifest="r1"),
        replica(2, "updated", dseq=49, version="x", manifest="other"),
        replica(2, "closed", dseq=49, reason="other"),
    )
    assert (s.replicas[2].manifest, s.replicas[2].closed) == ("r1", None)
    assert s.open_replicas() == {2: 50}


def test_a_closed_replica_is_not_open_and_a_new_intent_starts_it_afresh() -> None:
    closed = [
        replica(2, "created", dseq=50, manifest="r1"),
        replica(2, "closed", dseq="50", reason="lost"),
    ]
    s = state(*closed)
    assert (s.replicas[2].closed, s.replicas[2].open_dseq) == ("lost", None)
    assert s.open_replicas() == {}
    unexplained = state(replica(2, "created", dseq=50), replica(2, "closed", dseq=50))
    assert unexplained.replicas[2].closed == "closed"
    again = state(*closed, replica(2, "create_intent", version="v9"))
    assert again.replicas[2] == ReplicaState(version="v9", dseq=None, manifest=None, closed=None)


def test_a_replica_intent_while_open_keeps_its_deployment() -> None:
    s = state(
        replica(2, "created", dseq=50, version="rv1", manifest="r1"),
        replica(2, "create_intent", version="v2"),
    )
    assert s.replicas[2] == ReplicaState(version="v2", dseq=50, manifest="r1")


def test_open_replicas_are_listed_in_replica_order() -> None:
    s = state(
        replica(3, "created", dseq=60),
        replica(2, "created", dseq=70),
        replica(4, "created", dseq=80),
        replica(4, "closed", dseq=80),
    )
    assert list(s.open_replicas().items()) == [(2, 70), (3, 60)]


# -- the journals write what the state reads -------------------------------------------------


def task_context() -> TaskContext:
    async def emit(*_: Any) -> Any:
        raise AssertionError("the journals record steps, they emit no events")

    task = Task(id="saga-test", agent_type="deployment")
    return TaskContext(task=task, attempt=1, store=MemoryStateStore(), runtime=None, _emit=emit)


def lease(dseq: int, provider: str) -> Lease:
    lid = LeaseId(owner=OWNER, dseq=dseq, gseq=1, oseq=1, provider=provider)
    return Lease(id=lid, state="active", price=Price(denom="uact", amount=Decimal(1)))


async def test_the_saga_journal_records_each_step_with_its_facts() -> None:
    context = task_context()
    journal = SagaJournal(context)
    await journal.before_create(version="v1", sdl="sdl text")
    await journal.created(dseq=42, version="rv1", recovered=True, manifest="m1")
    bid = LeaseId(owner=OWNER, dseq=42, gseq=1, oseq=2, provider="akash1a")
    await journal.before_lease(dseq=42, bids=[bid])
    await journal.leased(dseq=42, leases=[lease(42, "akash1a")])
    await journal.updated(dseq=42, version="rv2", manifest="m2")
    await journal.finalized({"dseq": 42})
    await journal.closed(dseq=42, reason="expired")
    recorded = await context.steps()
    assert [(step.name, step.data) for step in recorded] == [
        ("deployment.create_intent", {"version": "v1"}),
        (
            "deployment.created",
            {"dseq": 42, "version": "rv1", "recovered": True, "manifest": "m1"},
        ),
        ("lease.intent", {"dseq": 42, "bids": [{"gseq": 1, "oseq": 2, "provider": "akash1a"}]}),
        ("lease.created", {"dseq": 42, "providers": ["akash1a"]}),
        ("deployment.updated", {"dseq": 42, "version": "rv2", "manifest": "m2"}),
        ("deployment.finalized", {"output": {"dseq": 42}}),
        ("deployment.closed", {"dseq": 42, "reason": "expired"}),
    ]
    s = SagaState.from_steps(recorded)
    assert (s.version, s.dseq, s.manifest, s.recorded_version) == ("v1", 42, "m2", "rv2")
    assert (s.leased, s.output, s.closed, s.open_dseq) == (
        ["akash1a"],
        {"dseq": 42},
        "expired",
        None,
    )


async def test_a_created_without_manifest_records_an_empty_one() -> None:
    context = task_context()
    await SagaJournal(context).created(dseq=5, version="rv", recovered=False)
    (step,) = await context.steps()
    assert step.data == {"dseq": 5, "version": "rv", "recovered": False, "manifest": ""}


async def test_the_replica_journal_tags_every_step_with_its_replica() -> None:
    context = task_context()
    journal = ReplicaJournal(context, 3)
    await journal.before_create(version="v1", sdl="sdl text")
    await journal.created(dseq=50, version="rv1", recovered=False, manifest="r1")
    await journal.before_lease(dseq=50, bids=[])
    await journal.leased(dseq=50, leases=[lease(50, "akash1b")])
    await journal.updated(dseq=50, version="rv2", manifest="r2")
    await journal.closed(dseq=50, reason="replaced")
    recorded = await context.steps()
    assert [(step.name, step.data) for step in recorded] == [
        ("replica.create_intent", {"replica": 3, "version": "v1"}),
        (
            "replica.created",
            {"replica": 3, "dseq": 50, "version": "rv1", "recovered": False, "manifest": "r1"},
        ),
        ("replica.leased", {"replica": 3, "dseq": 50, "providers": ["akash1b"]}),
        ("replica.updated", {"replica": 3, "dseq": 50, "version": "rv2", "manifest": "r2"}),
        ("replica.closed", {"replica": 3, "dseq": 50, "reason": "replaced"}),
    ]
    s = SagaState.from_steps(recorded)
    assert s.replicas == {3: ReplicaState(version="rv1", dseq=50, manifest="r2", closed="replaced")}
    assert (s.dseq, s.attempts_with_intent) == (None, 0)


async def test_a_replica_created_without_manifest_records_an_empty_one() -> None:
    context = task_context()
    await ReplicaJournal(context, 2).created(dseq=5, version="rv", recovered=True)
    (step,) = await context.steps()
    assert step.data == {
        "replica": 2,
        "dseq": 5,
        "version": "rv",
        "recovered": True,
        "manifest": "",
    }
