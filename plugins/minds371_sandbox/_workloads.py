"""What a provider runs for a lease: lease status, Kubernetes events and pod logs.

Everything here is a pure function of the lease and the current height, so it needs no storage,
survives a restart, and a following stream sees exactly the lines a later query returns. The image
rules are in :mod:`._images`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping
from typing import Any

from minds371_sandbox._images import ImageVerdict, classify_image
from minds371_sandbox._providers import ProviderSpec
from minds371_sandbox._records import Deployment, Lease, WorldConfig

__all__ = [
    "lease_events",
    "lease_namespace",
    "lease_status",
    "pod_logs",
    "pod_name",
    "ready_height",
    "running_pods",
]

_MAX_BACKOFF_EVENTS = 50
_LOG_WINDOW = 1000


def _slug(*parts: object, length: int) -> str:
    return _base32_digest("/".join(str(p) for p in parts))[:length]


@functools.lru_cache(maxsize=65_536)  # every status poll names the same pods and hosts again
def _base32_digest(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode().lower()


def lease_namespace(dep: Deployment, lease: Lease) -> str:
    """The Kubernetes namespace a provider gives the lease (a hash of the lease id)."""
    return _slug(dep.owner, dep.dseq, lease.gseq, lease.oseq, lease.provider, length=45)


def pod_name(dep: Deployment, lease: Lease, service: str, replica: int) -> str:
    """The pod name of one replica of a service (changes with each accepted manifest)."""
    rs = _slug(dep.dseq, lease.gseq, lease.oseq, service, lease.generation, length=10)
    return f"{service}-{rs}-{_slug(rs, replica, length=5)}"


def _services(lease: Lease) -> list[Mapping[str, Any]]:
    return list((lease.manifest or {}).get("services") or [])


def _verdict(service: Mapping[str, Any]) -> ImageVerdict:
    return classify_image(str(service.get("image", "")), service.get("env") or ())


def ready_height(lease: Lease, config: WorldConfig) -> int | None:
    """The height at which every service of the lease is ready (None if some never will be)."""
    if lease.manifest_at is None or lease.state != "active":
        return None
    if any(_verdict(s).outcome != "ok" for s in _services(lease)):
        return None
    return lease.manifest_at + config.pull_blocks


def _exposes(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e for e in service.get("expose") or [] if e.get("global")]


def lease_status(
    dep: Deployment, lease: Lease, provider: ProviderSpec, height: int, config: WorldConfig
) -> dict[str, Any] | None:
    """The provider's ``GET /lease/…/status`` body (None before the manifest: a 404)."""
    if lease.manifest is None or lease.manifest_at is None:
        return None
    services: dict[str, Any] = {}
    forwarded: dict[str, list[dict[str, Any]]] = {}
    ips: dict[str, list[dict[str, Any]]] = {}
    pulled = height >= lease.manifest_at + config.pull_blocks
    for service in _services(lease):
        name = str(service["name"])
        count = int(service.get("count", 1))
        ok = _verdict(service).outcome == "ok"
        ready = count if (ok and pulled and lease.state == "active") else 0
        uris: list[str] = []
        for expose in _exposes(service):
            external = int(expose.get("externalPort") or expose.get("port") or 0)
            proto = str(expose.get("proto", "TCP"))
            if expose.get("ip"):
                ips.setdefault(name, []).append(
                    {
                        "IP": _leased_ip(lease.provider, str(expose["ip"])),
                        "Port": int(expose["port"]),
                        "ExternalPort": external,
                        "Protocol": proto,
                    }
                )
            elif proto == "TCP" and external == 80:
                host = f"{_slug(dep.dseq, lease.gseq, name, length=26)}.ingress.{provider.hostname}"
                for uri in [host, *(expose.get("hosts") or [])]:
                    if uri not in uris:
                        uris.append(uri)
            else:
                node_port = (
                    30000
                    + int(_slug(dep.dseq, name, expose.get("port"), proto, length=3), 36) % 2700
                )
                forwarded.setdefault(name, []).append(
                    {
                        "host": provider.hostname,
                        "port": int(expose["port"]),
                        "externalPort": node_port,
                        "proto": proto,
                        "name": name,
                        "available": ready,
                    }
                )
        services[name] = {
            "name": name,
            "available": ready,
            "total": count,
            "uris": uris,
            "observed_generation": lease.generation,
            "replicas": count,
            "updated_replicas": count,
            "ready_replicas": ready,
            "available_replicas": ready,
        }
    return {"services": services, "forwarded_ports": forwarded, "ips": ips}


def _leased_ip(provider: str, endpoint: str) -> str:
    # TEST-NET-3 addresses: documentation-only, never routable.
    return f"203.0.113.{int(_slug(provider, endpoint, length=2), 36) % 250 + 2}"


def _event(
    kind: str, reason: str, note: str, namespace: str, pod: str, height: int
) -> dict[str, Any]:
    return {
        "type": kind,
        "reportingController": "kubelet" if reason != "Scheduled" else "default-scheduler",
        "reportingInstance": "node-1",
        "reason": reason,
        "note": note,
        "object": {"kind": "Pod", "namespace": namespace, "name": pod},
        "_height": height,  # stripped before sending; orders the timeline
    }


def lease_events(
    dep: Deployment,
    lease: Lease,
    height: int,
    config: WorldConfig,
    services: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Every Kubernetes event of the lease's pods up to ``height``, oldest first."""
    if lease.manifest_at is None:
        return []
    start = lease.manifest_at
    namespace = lease_namespace(dep, lease)
    events: list[dict[str, Any]] = []
    for service in _services(lease):
        name = str(service["name"])
        if services and name not in services:
            continue
        image = str(service.get("image", ""))
        verdict = _verdict(service)
        for replica in range(int(service.get("count", 1))):
            pod = pod_name(dep, lease, name, replica)
            timeline = [
                _event(
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned {namespace}/{pod} to node-1",
                    namespace,
                    pod,
                    start,
                ),
            ]
            if verdict.outcome == "invalid":
                timeline.append(
                    _event("Warning", "InspectFailed", verdict.reason, namespace, pod, start)
                )
                timeline.append(
                    _event("Warning", "Failed", "Error: InvalidImageName", namespace, pod, start)
                )
            else:
                timeline.append(
                    _event("Normal", "Pulling", f'Pulling image "{image}"', namespace, pod, start)
                )
                failed_at = start + config.pull_blocks
                if verdict.outcome == "pull_error":
                    timeline.append(
                        _event(
                            "Warning",
                            "Failed",
                            f'Failed to pull image "{image}": {verdict.reason}',
                            namespace,
                            pod,
                            failed_at,
                        )
                    )
                    timeline.append(
                        _event(
                            "Warning", "Failed", "Error: ErrImagePull", namespace, pod, failed_at
                        )
                    )
                    timeline.extend(
                        _backoffs(
                            namespace,
                            pod,
                            failed_at,
                            height,
                            config,
                            f'Back-off pulling image "{image}"',
                        )
                    )
                    timeline.extend(
                        _backoffs(
                            namespace, pod, failed_at, height, config, "Error: ImagePullBackOff"
                        )
                    )
                else:
                    timeline.append(
                        _event(
                            "Normal",
                            "Pulled",
                            f'Successfully pulled image "{image}"',
                            namespace,
                            pod,
                            failed_at,
                        )
                    )
                    timeline.append(
                        _event(
                            "Normal",
                            "Created",
                            f"Created container {name}",
                            namespace,
                            pod,
                            failed_at,
                        )
                    )
                    timeline.append(
                        _event(
                            "Normal",
                            "Started",
                            f"Started container {name}",
                            namespace,
                            pod,
                            failed_at,
                        )
                    )
                    if verdict.outcome == "crash_loop":
                        timeline.extend(
                            _backoffs(namespace, pod, failed_at + 1, height, config, verdict.reason)
                        )
            events.extend(e for e in timeline if e["_height"] <= height)
    events.sort(key=lambda e: e["_height"])
    return events


def _backoffs(
    namespace: str, pod: str, since: int, height: int, config: WorldConfig, note: str
) -> list[dict[str, Any]]:
    count = min(max(0, (height - since) // config.backoff_blocks + 1), _MAX_BACKOFF_EVENTS)
    return [
        _event("Warning", "BackOff", note, namespace, pod, since + i * config.backoff_blocks)
        for i in range(count)
    ]


def running_pods(
    dep: Deployment, lease: Lease, height: int, config: WorldConfig
) -> list[tuple[str, str]]:
    """``(service, pod)`` pairs whose containers have started (crash loops restart; they count)."""
    if (
        lease.manifest_at is None
        or lease.state != "active"
        or height < lease.manifest_at + config.pull_blocks
    ):
        return []
    pods = []
    for service in _services(lease):
        if _verdict(service).outcome in ("ok", "crash_loop"):
            for replica in range(int(service.get("count", 1))):
                pods.append(
                    (str(service["name"]), pod_name(dep, lease, str(service["name"]), replica))
                )
    return pods


def pod_logs(
    dep: Deployment,
    lease: Lease,
    service: Mapping[str, Any],
    replica: int,
    height: int,
    config: WorldConfig,
) -> list[tuple[int, str]]:
    """``(height, line)`` log lines of one pod up to ``height``."""
    if lease.manifest_at is None:
        return []
    started = lease.manifest_at + config.pull_blocks
    if height < started:
        return []
    verdict = _verdict(service)
    if verdict.outcome in ("pull_error", "invalid"):
        return []
    ports = [int(e.get("port", 0)) for e in service.get("expose") or []]
    lines: list[tuple[int, str]] = [
        # What the container itself writes: the service's name is the log stream's, added by
        # whoever shows the line (as `provider-services lease-logs` does), not the message's.
        (started, f"starting {service.get('image')} (replica {replica})")
    ]
    if verdict.outcome == "crash_loop":
        restarts = min((height - started) // config.backoff_blocks + 1, _MAX_BACKOFF_EVENTS)
        for i in range(restarts):
            at = started + i * config.backoff_blocks
            lines.append((at, f"fatal: configuration error, exiting with code 1 (restart {i})"))
        return [item for item in lines if item[0] <= height]
    for port in ports:
        lines.append((started, f"listening on 0.0.0.0:{port}"))
    beats = (height - started) // config.log_every_blocks
    # A pod keeps its last _LOG_WINDOW access-log lines (as a log rotation would).
    for i in range(max(1, beats - _LOG_WINDOW + 1), beats + 1):
        lines.append((started + i * config.log_every_blocks, '10.42.0.1 - - "GET / HTTP/1.1" 200'))
    return lines
