"""A small valid SDL to mutate in tests."""

from __future__ import annotations

import copy
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "version": "2.0",
    "services": {
        "web": {
            "image": "nginx:1.27",
            "expose": [{"port": 80, "as": 80, "to": [{"global": True}]}],
        },
    },
    "profiles": {
        "compute": {
            "web": {
                "resources": {
                    "cpu": {"units": 0.5},
                    "memory": {"size": "512Mi"},
                    "storage": {"size": "1Gi"},
                }
            }
        },
        "placement": {"akash": {"pricing": {"web": {"denom": "uact", "amount": 1000}}}},
    },
    "deployment": {"web": {"akash": {"profile": "web", "count": 1}}},
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
