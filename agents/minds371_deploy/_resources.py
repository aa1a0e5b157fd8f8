"""The deploy plugin's MCP resources: ``minds371://deployments/{dseq}``.

Reading one gives what this home knows of the deployment (name, network, state, task), its
status as the network reports it, the tail of its logs and its cost, each through the registered
actions (``GET_DEPLOYMENT_STATUS``, ``GET_DEPLOYMENT_LOGS``) so that a host sees the same data as
a tool call would give. Listing gives the open deployments of this home.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minds371.actions import RunContext
from minds371.adapters.resources import ResourceEntry, ResourceTemplate
from minds371.errors import FieldIssue, Minds371Error, ValidationError
from minds371_deploy.listing import DeploymentRow, deployment_rows

__all__ = ["LOG_TAIL", "deployment_resources"]

LOG_TAIL = 20
"""Log lines per lease in a deployment resource."""

URI = "minds371://deployments/{dseq}"


def deployment_resources(runtime: Any) -> list[ResourceTemplate]:
    """The deployments of ``runtime``'s home as resources."""

    async def rows(include_closed: bool) -> list[DeploymentRow]:
        return await deployment_rows(runtime.store, include_closed=include_closed)

    async def run(name: str, params: Mapping[str, Any]) -> Any:
        ctx: RunContext[Any] = RunContext(deps=runtime.deps, runtime=runtime)
        try:
            return await runtime.actions.execute(name, params, ctx=ctx)
        except Minds371Error as exc:
            return {"error": exc.message}

    async def listing() -> list[ResourceEntry]:
        return [
            ResourceEntry(
                uri=URI.format(dseq=row.dseq),
                name=f"{row.name} ({row.network} deployment {row.dseq})",
                description=f"{row.state}; status, logs tail and cost",
            )
            for row in await rows(False)
        ]

    async def read(variables: Mapping[str, str]) -> dict[str, Any]:
        text = variables.get("dseq", "")
        row = next((r for r in await rows(True) if str(r.dseq) == text), None)
        if row is None:
            raise ValidationError(
                [FieldIssue("/dseq", f"this home knows no deployment {text!r}")],
                subject="deployment resource",
            )
        ref = {"dseq": row.dseq, "network": row.network}
        status = await run("GET_DEPLOYMENT_STATUS", ref)
        logs: Any = {"lines": []}
        if row.is_open:
            logs = await run("GET_DEPLOYMENT_LOGS", {**ref, "tail": LOG_TAIL})
        leases = status.get("leases", []) if isinstance(status, dict) else []
        return {
            "dseq": str(row.dseq),
            "name": row.name,
            "network": row.network,
            "state": status.get("state", row.state) if isinstance(status, dict) else row.state,
            "task_id": row.task_id,
            "status": status,
            "logs": logs,
            "cost": {
                "usd_per_month": row.usd_per_month,
                "price_per_block": [lease.get("price") for lease in leases],
                "runway": status.get("runway") if isinstance(status, dict) else None,
            },
        }

    return [
        ResourceTemplate(
            uri_template=URI,
            name="deployment",
            description=(
                "A deployment of this home: its state, leases and endpoints, the last "
                f"{LOG_TAIL} log lines per lease, and its cost"
            ),
            read=read,
            list=listing,
        )
    ]
