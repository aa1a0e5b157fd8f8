"""What a finished deployment task reports, and the facts about its request it records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from minds371_akash import DeploymentResult
from minds371_akash.pricing import total_cost
from minds371_deploy.request import DeploymentRequest
from minds371_registry import RegistryReceipt

__all__ = ["endpoint_urls", "request_digest", "task_output"]


def endpoint_urls(outcome: DeploymentResult) -> list[str]:
    """The deployment's endpoint URLs, each once, in order."""
    seen: list[str] = []
    for endpoint in outcome.endpoints:
        if endpoint.url not in seen:
            seen.append(endpoint.url)
    return seen


def request_digest(request: DeploymentRequest) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no spaces), for the registry."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def task_output(
    task_id: str,
    request: DeploymentRequest,
    outcome: DeploymentResult,
    receipt: RegistryReceipt,
    script: str,
    replicas: Sequence[DeploymentResult] = (),
) -> dict[str, Any]:
    """The result of a deployment task: where it runs, what it costs, how it was recorded.

    ``replicas`` are replicas 2…N when redundancy is one deployment per replica (Console): their
    leases, endpoints and cost join the task's, and ``replicas`` lists each one's deployment.
    """
    deployment = outcome.to_dict()
    # What the service costs: every replica's leases, each paid from its own escrow.
    cost = total_cost([outcome.cost, *(replica.cost for replica in replicas)]).summary()
    leases = [_plain_price(lease) for lease in deployment["leases"]]
    endpoints = endpoint_urls(outcome)
    extra: list[dict[str, Any]] = []
    if replicas:  # leases of several deployments: say whose each one is
        leases = [{**lease, "dseq": deployment["dseq"]} for lease in leases]
    for index, replica in enumerate(replicas, start=2):
        leases += [
            {**_plain_price(lease), "dseq": str(replica.dseq)}
            for lease in replica.to_dict()["leases"]
        ]
        urls = endpoint_urls(replica)
        endpoints += [url for url in urls if url not in endpoints]
        extra.append(
            {
                "replica": index,
                "dseq": str(replica.dseq),
                "version": replica.version,
                "providers": sorted({lease.id.provider for lease in replica.leases}),
                "endpoints": urls,
            }
        )
    output = {
        "status": "completed",
        "task_id": task_id,
        "name": request.name,
        "network": request.network,
        "dseq": deployment["dseq"],
        "owner": outcome.owner,
        "version": outcome.version,
        "leases": leases,
        "endpoints": endpoints,
        "services": deployment["endpoints"],
        "cost": cost,
        "registry": {
            "record_id": receipt.record_id,
            "cid": receipt.cid,
            "sequence": receipt.sequence,
            "ledger": receipt.ledger,
            "signer": receipt.signer,
        },
        "monitor_script": script,
    }
    if extra:
        output["replicas"] = extra
    return output


def _plain_price(lease: dict[str, Any]) -> dict[str, Any]:
    """A lease with its price amount written without trailing zeros (``6.9``, not 18 decimals)."""
    amount = Decimal(lease["price"]["amount"]).normalize()
    text = format(amount, "f")
    return {**lease, "price": {**lease["price"], "amount": text}}
