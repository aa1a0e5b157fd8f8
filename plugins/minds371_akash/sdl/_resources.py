"""The Go ``Resources`` of a compute profile: CPU, memory, storage volumes, GPUs.

Values are decimal strings (``{"val": "500"}``): CPU in millicores, sizes in bytes. Volumes are
ordered as Go orders them (by size, then by their ``persistent`` attribute, then by name, with
Go's own comparator and stable sort); attributes are sorted by key.
"""

from __future__ import annotations

from typing import Any

from minds371_akash.sdl._gosort import go_stable
from minds371_akash.sdl._models import ComputeResources, StorageVolume
from minds371_akash.sdl._units import (
    parse_cpu_millis,
    parse_gpu_ram,
    parse_gpu_units,
    parse_size,
    scalar_text,
)

__all__ = ["attribute", "resources_of"]


def attribute(key: str, value: str) -> dict[str, str]:
    """A Go ``Attribute`` as JSON."""
    return {"key": key, "value": value}


def _storage_attrs(volume: StorageVolume) -> list[dict[str, str]]:
    attrs = volume.attributes
    if attrs is None:
        return []
    persistent = attrs.persistent
    if isinstance(persistent, str):
        persistent = persistent.strip().lower() == "true"
    pairs = {"persistent": "true" if persistent else "false"}
    if attrs.class_:
        pairs["class"] = attrs.class_
    elif persistent:
        pairs["class"] = "default"
    return [attribute(key, pairs[key]) for key in sorted(pairs)]


def _storage_less(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Go's volume order: size, then by the ``persistent`` attribute, then name."""
    size_a, size_b = int(a["size"]["val"]), int(b["size"]["val"])
    if size_a != size_b:
        return size_a < size_b
    pa = next((x["value"] for x in a.get("attributes", ()) if x["key"] == "persistent"), "")
    pb = next((x["value"] for x in b.get("attributes", ()) if x["key"] == "persistent"), "")
    if (not pa and pb) or (pa and pb and pa < pb):
        return True
    if pa and not pb:
        return False
    if pa != "true":
        return True
    if pb != "true":
        return False
    name_a: str = a["name"]
    name_b: str = b["name"]
    return name_a < name_b


def _gpu(resources: ComputeResources) -> dict[str, Any]:
    gpu = resources.gpu
    if gpu is None:
        return {"units": {"val": "0"}}
    result: dict[str, Any] = {"units": {"val": str(parse_gpu_units(gpu.units))}}
    if gpu.attributes is not None:
        keys = []
        for model in gpu.attributes.vendor.nvidia or ():
            key = f"vendor/nvidia/model/{model.model or ''}"
            if model.ram is not None:
                key += f"/ram/{parse_gpu_ram(model.ram)}"
            if model.interface is not None:
                key += f"/interface/{model.interface}"
            keys.append(key)
        if not keys:
            keys.append("vendor/nvidia/model/*")
        result["attributes"] = [attribute(key, "true") for key in sorted(keys)]
    return result


def resources_of(resources: ComputeResources) -> dict[str, Any]:
    """The Go ``Resources`` of a compute profile, without ``id`` and ``endpoints``."""
    cpu: dict[str, Any] = {"units": {"val": str(parse_cpu_millis(resources.cpu.units))}}
    if resources.cpu.attributes:
        cpu["attributes"] = [
            attribute(key, scalar_text(value))
            for key, value in sorted(resources.cpu.attributes.items())
        ]
    storage = []
    for volume in resources.storage:
        entry: dict[str, Any] = {
            "name": volume.name or "default",
            "size": {"val": str(parse_size(volume.size))},
        }
        attrs = _storage_attrs(volume)
        if attrs:
            entry["attributes"] = attrs
        storage.append(entry)
    # Go orders volumes with sort.SliceStable and this (not strictly weak) comparator.
    go_stable(storage, _storage_less)
    result: dict[str, Any] = {
        "cpu": cpu,
        "memory": {"size": {"val": str(parse_size(resources.memory.size))}},
    }
    # Go's Resources.Storage is tagged `json:"storage,omitempty"`
    # (chain-sdk go/node/types/resources/v1beta4/resources.pb.go): an SDL with `storage: []`
    # has no "storage" key in the manifest a provider hashes, so none here either.
    if storage:
        result["storage"] = storage
    result["gpu"] = _gpu(resources)
    return result
