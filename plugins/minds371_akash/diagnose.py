"""Troubleshooting: classify why a deployment failed and say what to do about it.

Every failure class of the Akash troubleshooting guide has a :class:`Diagnosis` kind:

==========================  ==============================================================
``no_bids``                 no provider bid (why: attributes, audit, GPU, price, policy)
``lease_failed``            the lease could not be created (bid or order no longer open)
``manifest_rejected``       a provider refused the manifest (hash or group-spec mismatch)
``image_pull_failed``       the container image cannot be pulled
``crash_loop``              the container starts and exits again and again
``not_ready``               services did not become ready within the timeout
``endpoint_unreachable``    the lease is ready but its HTTP endpoints do not answer
``insufficient_funds``      the account or the escrow ran out of funds
``provider_offline``        the provider stopped answering after the lease
``hostname_in_use``         another tenant's workload on the provider holds an accept host
==========================  ==============================================================

A diagnosis travels on the raised error as ``error.details["diagnosis"]`` (a plain dict, so it
survives ``to_dict()`` and JSON); :func:`diagnosis_of` reads it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import anyio
import httpx

from minds371_akash._diagnosis import Diagnosis, DiagnosisKind, attach, diagnosis_of
from minds371_akash._no_bids import (
    GroupRequirements,
    diagnose_no_bids,
    provider_fits,
    requirements_from_group_specs,
)
from minds371_akash.market import Endpoint, KubeEvent, LeaseStatus

__all__ = [
    "Diagnosis",
    "DiagnosisKind",
    "GroupRequirements",
    "attach",
    "diagnose_hostname_in_use",
    "diagnose_insufficient_funds",
    "diagnose_lease_failed",
    "diagnose_manifest_rejected",
    "diagnose_no_bids",
    "diagnose_not_ready",
    "diagnose_provider_offline",
    "diagnose_unreachable",
    "diagnosis_of",
    "is_conclusive",
    "probe_endpoints",
    "provider_fits",
    "requirements_from_group_specs",
]


def diagnose_lease_failed(message: str) -> Diagnosis:
    """A lease could not be created."""
    return Diagnosis(
        kind="lease_failed",
        summary="The lease could not be created: the bid or the order was no longer open.",
        evidence=(message,),
        actions=(
            "Fetch the bids again and lease another open bid (bids expire after about 5 minutes).",
            "If the order itself closed, close the deployment and create it again.",
        ),
    )


def diagnose_manifest_rejected(message: str) -> Diagnosis:
    """A provider refused the manifest."""
    return Diagnosis(
        kind="manifest_rejected",
        summary="The provider rejected the manifest.",
        evidence=(message,),
        actions=(
            "Send exactly the manifest whose version hash was put on chain (do not regenerate "
            "the SDL between create and send).",
            "An update may change the manifest only, not the resources or groups: to change "
            "resources, close the deployment and create a new one.",
        ),
    )


def diagnose_hostname_in_use(message: str) -> Diagnosis:
    """A provider refused the manifest: another tenant runs a workload with the same host.

    ``provider:cluster/hostname.go`` ``CanReserveHostnames``: a host belongs to the tenant whose
    running lease on that provider asked for it first; the same owner may use it again.
    """
    return Diagnosis(
        kind="hostname_in_use",
        summary="Another tenant's deployment on this provider already serves one of the "
        "request's hosts (its domain), so the provider refused the manifest.",
        evidence=(message,),
        actions=(
            "Deploy with another domain, or add this provider to `bid_policy.deny_providers` "
            "and deploy again (another provider may not have the host in use).",
            "If the domain is yours, the other tenant may have claimed it on purpose: point "
            "your DNS only at the provider that serves your deployment.",
        ),
    )


def diagnose_insufficient_funds(message: str) -> Diagnosis:
    """The account or the escrow lacks funds."""
    return Diagnosis(
        kind="insufficient_funds",
        summary="There are not enough funds to pay for the deployment.",
        evidence=(message,),
        actions=(
            "Add credits to the Console account (or uact to the wallet for the CLI).",
            "Deposit more into the deployment's escrow before it runs dry: "
            "`akash tx escrow deposit deployment <amount>uact --dseq N`.",
            "A lease closed as insufficient_funds cannot be reopened: deploy again.",
        ),
    )


def diagnose_provider_offline(provider: str, message: str = "") -> Diagnosis:
    """The provider serving a lease stopped answering."""
    return Diagnosis(
        kind="provider_offline",
        summary=f"Provider {provider} stopped answering.",
        evidence=tuple(x for x in (message,) if x),
        actions=(
            "Close the lease's deployment (or let the watcher re-lease the group) and pick a "
            "bid from another provider.",
            "Prefer providers with a high uptime (bid policy min_uptime, uptime_weight).",
        ),
    )


# Kubernetes reports these as reason "Failed"/"BackOff" with the detail in the note.
_PULL = (
    "errimagepull",
    "imagepullbackoff",
    "invalidimagename",
    "errimageneverpull",
    "failed to pull image",
    "back-off pulling image",
)
_CRASH = ("crashloopbackoff", "back-off restarting failed container")


def _mentions(event: KubeEvent, markers: Sequence[str]) -> bool:
    text = f"{event.reason} {event.note}".lower()
    return any(marker in text for marker in markers)


def is_conclusive(events: Iterable[KubeEvent]) -> bool:
    """Whether the events prove that waiting longer will not help.

    A back-off (Kubernetes retrying a failed pull or a crashed container) or an invalid image
    name is conclusive; a single failed pull may still be transient.
    """
    return any(
        e.reason == "BackOff" or _mentions(e, ("invalidimagename", "crashloopbackoff"))
        for e in events
    )


def diagnose_not_ready(
    status: Mapping[int, LeaseStatus | None],
    events: Iterable[KubeEvent],
    *,
    timeout: float,
) -> Diagnosis:
    """Classify services that never became ready: image pull, crash loop, or just slow."""
    events = list(events)
    pulls = [
        e
        for e in events
        if e.reason.lower() in _PULL or ("pull" in e.note.lower() and e.type == "Warning")
    ]
    crashes = [
        e for e in events if e.reason.lower() in _CRASH or any(c in e.note.lower() for c in _CRASH)
    ]
    pending = []
    for gseq, lease_status in sorted(status.items()):
        if lease_status is None:
            pending.append(f"gseq {gseq}: no status from the provider")
            continue
        for svc in lease_status.services.values():
            if not svc.ready:
                pending.append(f"gseq {gseq}: {svc.name} {svc.available}/{svc.total} ready")
    if pulls:
        return Diagnosis(
            kind="image_pull_failed",
            summary="The container image cannot be pulled.",
            evidence=tuple(f"{e.reason}: {e.note}" for e in pulls[:5]) + tuple(pending),
            actions=(
                "Check the image name and tag (`docker pull <image>` from any machine).",
                "For a private registry, add `credentials` (host, username, password) to the "
                "service in the SDL.",
                "Providers do not reliably close such leases: the deployment was closed.",
            ),
        )
    if crashes:
        return Diagnosis(
            kind="crash_loop",
            summary="The container keeps exiting right after it starts (crash loop).",
            evidence=tuple(f"{e.reason}: {e.note}" for e in crashes[:5]) + tuple(pending),
            actions=(
                "Read the service logs (`minds371 logs DSEQ`) for the error.",
                "Check the command, args and env in the SDL, and that memory is sufficient.",
            ),
        )
    return Diagnosis(
        kind="not_ready",
        summary=f"Services were not ready after {timeout:.0f} s.",
        evidence=tuple(pending) or ("no service reported by the provider",),
        actions=(
            "Check the lease events (`minds371 events DSEQ`) and logs (`minds371 logs DSEQ`).",
            "Large images take time to pull: raise the readiness timeout.",
        ),
    )


async def probe_endpoints(
    endpoints: Sequence[Endpoint],
    *,
    client: httpx.AsyncClient | None = None,
    per_probe: float = 5.0,
) -> dict[str, str]:
    """HTTP-probe the ``http`` endpoints; return ``{url: problem}`` for those that failed.

    Any HTTP answer (even 404 or 500) counts as reachable: the service is there.
    """
    problems: dict[str, str] = {}
    own = client is None
    client = client or httpx.AsyncClient(timeout=per_probe, follow_redirects=False)

    async def probe(url: str) -> None:
        try:
            with anyio.fail_after(per_probe):
                await client.get(url)
        except (httpx.HTTPError, TimeoutError) as exc:
            problems[url] = f"{type(exc).__name__}: {exc}".strip()

    try:
        async with anyio.create_task_group() as tg:
            for endpoint in endpoints:
                if endpoint.kind == "http":
                    tg.start_soon(probe, endpoint.url)
    finally:
        if own:
            await client.aclose()
    return problems


def diagnose_unreachable(problems: Mapping[str, str]) -> Diagnosis:
    """Ready services whose endpoints do not answer."""
    return Diagnosis(
        kind="endpoint_unreachable",
        summary="The services are ready but their endpoints do not answer.",
        evidence=tuple(f"{url}: {why}" for url, why in sorted(problems.items())),
        actions=(
            "Check that the SDL exposes the port the container listens on (expose.port) with "
            "`to: [{global: true}]`.",
            "Check that the process listens on 0.0.0.0, not 127.0.0.1.",
            "Ingress DNS can take a minute to propagate: probe again shortly.",
        ),
    )
