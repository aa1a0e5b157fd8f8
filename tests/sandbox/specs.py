"""GroupSpec builders for sandbox tests (Go JSON, as the SDL engine produces them)."""

from __future__ import annotations

from typing import Any

from minds371_sandbox._identity import AUDITOR

MI = 1024**2
GI = 1024**3


def group_spec(
    name: str = "dcloud",
    *,
    cpu: int = 500,
    memory: int = 512 * MI,
    storage: int = GI,
    count: int = 1,
    price: str = "1000.000000000000000000",
    denom: str = "uact",
    attributes: dict[str, str] | None = None,
    any_of: list[str] | None = None,
    gpu_model: str | None = None,
    gpu_units: int = 1,
    persistent_class: str | None = None,
    random_port: bool = False,
) -> dict[str, Any]:
    # manifest_group() exposes port 80 (shared HTTP) and 22 as 2222 (a random port): a provider
    # accepts it only for a unit with both endpoints (random_port=True).
    endpoints: list[dict[str, int]] = [{"sequence_number": 0}]
    if random_port:
        endpoints.append({"kind": 1, "sequence_number": 0})
    gpu: dict[str, Any] = {"units": {"val": "0"}}
    if gpu_model:
        gpu = {
            "units": {"val": str(gpu_units)},
            "attributes": [{"key": f"vendor/nvidia/model/{gpu_model}", "value": "true"}],
        }
    volumes: list[dict[str, Any]] = [{"name": "default", "size": {"val": str(storage)}}]
    if persistent_class:
        volumes.append(
            {
                "name": "data",
                "size": {"val": str(10 * GI)},
                "attributes": [
                    {"key": "class", "value": persistent_class},
                    {"key": "persistent", "value": "true"},
                ],
            }
        )
    return {
        "name": name,
        "requirements": {
            "signed_by": {"all_of": None, "any_of": any_of},
            "attributes": [{"key": k, "value": v} for k, v in sorted((attributes or {}).items())],
        },
        "resources": [
            {
                "resource": {
                    "id": 1,
                    "cpu": {"units": {"val": str(cpu)}},
                    "memory": {"size": {"val": str(memory)}},
                    "storage": volumes,
                    "gpu": gpu,
                    "endpoints": endpoints,
                },
                "count": count,
                "price": {"denom": denom, "amount": price},
            }
        ],
    }


def manifest_group(
    name: str = "dcloud",
    *,
    image: str = "nginx:1.27",
    count: int = 1,
    env: list[str] | None = None,
    service: str = "web",
) -> dict[str, Any]:
    return {
        "name": name,
        "services": [
            {
                "name": service,
                "image": image,
                "command": None,
                "args": None,
                "env": env,
                # The resources of group_spec(name)'s unit, as the provider cross-checks them.
                "resources": group_spec(name, random_port=True)["resources"][0]["resource"],
                "count": count,
                # Sorted as the provider requires (ServiceExposes.Less: by port first).
                "expose": [
                    {
                        "port": 22,
                        "externalPort": 2222,
                        "proto": "TCP",
                        "service": "",
                        "global": True,
                        "hosts": None,
                        "ip": "",
                        "endpointSequenceNumber": 0,
                    },
                    {
                        "port": 80,
                        "externalPort": 80,
                        "proto": "TCP",
                        "service": "",
                        "global": True,
                        "hosts": None,
                        "ip": "",
                        "endpointSequenceNumber": 0,
                    },
                ],
                "credentials": None,
            }
        ],
    }


AUDITED = [AUDITOR]


def sdl(
    *,
    services: tuple[str, ...] = ("web",),
    image: str = "nginx:1.27",
    price: int = 1000,
    count: int = 1,
    region: str | None = None,
    env: list[str] | None = None,
) -> str:
    """A small SDL 2.0 document: each service exposes port 80 globally, one placement."""
    lines = ['version: "2.0"', "services:"]
    for name in services:
        lines += [f"  {name}:", f"    image: {image}"]
        if env:
            lines += ["    env:"] + [f"      - {item}" for item in env]
        lines += [
            "    expose:",
            "      - port: 80",
            "        as: 80",
            "        to:",
            "          - global: true",
        ]
    lines += ["profiles:", "  compute:"]
    for name in services:
        lines += [
            f"    {name}:",
            "      resources:",
            "        cpu: {units: 0.5}",
            "        memory: {size: 512Mi}",
            "        storage: {size: 1Gi}",
        ]
    lines += ["  placement:", "    dcloud:"]
    if region:
        lines += ["      attributes:", f"        region: {region}"]
    lines += ["      pricing:"]
    for name in services:
        lines += [f"        {name}: {{denom: uact, amount: {price}}}"]
    lines += ["deployment:"]
    for name in services:
        lines += [f"  {name}:", "    dcloud:", f"      profile: {name}", f"      count: {count}"]
    return "\n".join(lines) + "\n"
