"""A small registry of real actions for the adapter tests: one that reads, one that spends, one
whose parameters hold a secret (as a private registry login does)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from minds371.actions import ActionRegistry, RunContext

#: What the spending action has been asked to do (so a test sees whether it ran).
SPENT: list[int] = []


class Amount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(ge=1, le=1000, description="how much")


class Payment(Amount):
    memo: dict[str, str] = Field(default_factory=dict, description="notes for the books")


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    password: SecretStr


class Pull(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str
    login: Login | None = None


def registry() -> ActionRegistry:
    """A fresh registry of ``QUOTE``, ``PAY`` and ``PULL``."""
    found = ActionRegistry()

    @found.action(description="Quote a price.", read_only=True, idempotent=True)
    async def QUOTE(ctx: RunContext[Any], params: Amount) -> dict[str, Any]:
        await ctx.progress("quote.priced", f"priced {params.amount}")
        return {"amount": params.amount, "usd": params.amount * 2}

    @found.action(description="Pay an amount.", spends_money=True, requires_approval=True)
    async def PAY(ctx: RunContext[Any], params: Payment) -> dict[str, Any]:
        SPENT.append(params.amount)
        return {"paid": params.amount}

    @found.action(description="Pull an image.", destructive=True)
    async def PULL(ctx: RunContext[Any], params: Pull) -> dict[str, Any]:
        return {"image": params.image, "logged_in": params.login is not None}

    return found
