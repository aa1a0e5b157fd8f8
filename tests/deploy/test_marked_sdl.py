"""The SDL a deployment task sends and journals, pinned byte for byte.

Its text is hashed into the manifest version the network records, by which a create that lost
its answer is found again after a crash: the same request and task must give the same text in
every release. The expected texts are in ``tests/fixtures/deploy/marked-sdl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minds371_deploy._marker import with_task_marker
from minds371_deploy.agent import DeploymentAgent
from minds371_deploy.request import parse_request

EXPECTED = Path(__file__).resolve().parent.parent / "fixtures" / "deploy" / "marked-sdl"

TID = "0f5b2c1e-8a4d-4e7b-9c3f-2d6a1b0e9f47"
SDL_TEXT = (
    """version: "2.0"
services:
  api:
    image: ghcr.io/acme/api@sha256:"""
    + "ab" * 32
    + """
    env: ["MINDS371_DEPLOYMENT=stale", "MODE=on"]
    expose:
      - port: 8080
        as: 80
        to: [{global: true}]
profiles:
  compute:
    api: {resources: {cpu: {units: 1.0}, memory: {size: 1Gi}, storage: [{size: 2Gi}]}}
  placement:
    dc: {pricing: {api: {denom: uact, amount: 250.5}}}
deployment:
  api: {dc: {profile: api, count: 2}}
"""
)
REQUESTS: dict[str, dict[str, Any]] = {
    "infra_spec": {
        "name": "shop",
        "environment_vars": {
            "GREETING": 'yes: it\'s "quoted" & <b>',
            "RATIO": "1.50",
            "EMPTY": "",
            "NAME": "ünïcode ✓",
        },
        "domain": "shop.example.com",
        "infra_spec": {
            "services": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "cpu": 0.25,
                    "memory": "256Mi",
                    "ports": [{"port": 80}, {"port": 9000, "global": False}],
                    "env": {"ON": "off"},
                },
                {
                    "name": "worker",
                    "image": "redis:7",
                    "command": ["redis-server", "--save", ""],
                    "cpu": "1500m",
                    "count": 2,
                    "max_price_uact": "12.250",
                },
            ],
            "max_price_uact": 1000,
        },
    },
    "image": {"name": "hello", "image": "nginx:1.27"},
    "sdl": {"name": "api", "sdl": SDL_TEXT},
}


def _marked(payload: dict[str, Any]) -> tuple[str, str]:
    request = parse_request(payload).model_copy(update={"task_id": TID})
    agent = DeploymentAgent.__new__(DeploymentAgent)  # _marked_sdl reads the request alone
    return agent._marked_sdl(request), with_task_marker(request.base_sdl(), TID)


@pytest.mark.parametrize("form", sorted(REQUESTS))
def test_the_marked_sdl_of_a_request_is_the_pinned_text(form: str) -> None:
    marked, from_text = _marked(REQUESTS[form])
    assert marked == (EXPECTED / f"{form}.yaml").read_text()
    assert from_text == marked  # marking the base SDL's text gives the same
