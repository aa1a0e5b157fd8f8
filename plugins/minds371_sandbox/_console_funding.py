"""Console's funding routes: the user and wallet, recent blocks, and deployment settings.

Shapes from ``reference/console-api-openapi.json`` and ``console:apps/api/src``:

* ``GET /v1/user/me`` (``user`` routes) → ``{"data": {id, userId, username, email, ...}}``;
* ``GET /v1/wallets?userId=`` (``billing/routes/get-wallet-list``) → ``{"data": [{id, userId,
  creditAmount, address, denom, isTrialing, topUpMinAmountUsd, createdAt}]}``; ``userId`` is
  required; another user's id lists nothing (CASL filters what the caller may read);
* ``GET /v1/blocks?limit=`` (public) → ``[{height, proposer, transactionCount,
  totalTransactionCount, datetime}]``, newest first;
* ``GET|PATCH /v2/deployment-settings/{dseq}`` and ``POST /v2/deployment-settings``
  (``deployment/routes/deployment-setting/deployment-setting.router.ts``) →
  ``{"data": {id, userId, dseq, autoTopUpEnabled, estimatedTopUpAmount, topUpFrequencyMs,
  createdAt, updatedAt}}``. GET creates the setting when there is none, enabled for a user with
  a wallet (``findOrCreateByUserIdAndDseq``: ``autoTopUpEnabled: !!userWallet``); POST defaults
  it off; PATCH upserts. Switching it on runs the owner's funding at once (:mod:`._top_up`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from minds371_sandbox._console_http import (
    ConsoleReject,
    authenticate,
    issue,
    parse_dseq,
    read_json,
    validation_error,
)
from minds371_sandbox._hub import Hub
from minds371_sandbox._identity import is_trial_api_key
from minds371_sandbox._top_up import (
    DeploymentSetting,
    steady_state_amount,
    sweep,
)

__all__ = ["FundingApi", "user_id_of"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def user_id_of(owner: str) -> str:
    """The sandbox user id (a UUID, as Console's) of the wallet at ``owner``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"minds371-sandbox/user/{owner}"))


def _user_id_param(value: Any, path: list[str | int]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _UUID.match(value):
        raise validation_error([issue(path, "Invalid uuid", code="invalid_string")])
    return value


class FundingApi:
    """The routes above, on the hub's world."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def user_me(self, request: Request) -> Response:
        owner = authenticate(request)
        user = user_id_of(owner)
        return JSONResponse(
            {
                "data": {
                    "id": user,
                    "userId": user,
                    "username": f"sandbox-{owner[-8:]}",
                    "email": f"{owner[-8:]}@sandbox.invalid",
                    "emailVerified": True,
                    "stripeCustomerId": None,
                    "bio": None,
                    "subscribedToNewsletter": False,
                    "youtubeUsername": None,
                    "twitterUsername": None,
                    "githubUsername": None,
                    "onboardingSkippedAt": None,
                }
            }
        )

    async def wallets(self, request: Request) -> Response:
        owner = authenticate(request)
        wanted = _user_id_param(request.query_params.get("userId"), ["userId"])
        if wanted is None:
            raise validation_error([issue(["userId"], "Required", expected="string")])
        if wanted != user_id_of(owner):
            return JSONResponse({"data": []})
        account = self.hub.world.account(owner)
        return JSONResponse(
            {
                "data": [
                    {
                        "id": int(uuid.UUID(wanted)) % 1_000_000,
                        "userId": wanted,
                        "creditAmount": float(account.balance / 1_000_000),
                        "address": owner,
                        "denom": "uact",
                        "isTrialing": is_trial_api_key(request.headers["x-api-key"]),
                        "topUpMinAmountUsd": 20,
                        "createdAt": _EPOCH.isoformat().replace("+00:00", "Z"),
                    }
                ]
            }
        )

    async def blocks(self, request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError as exc:
            raise validation_error([issue(["limit"], "Expected number, received nan")]) from exc
        if not 1 <= limit <= 100:
            raise validation_error([issue(["limit"], "Number must be between 1 and 100")])
        height = self.hub.catch_up()
        start = self.hub.world.config.start_height
        return JSONResponse(
            [
                {
                    "height": h,
                    "proposer": {
                        "address": "akashvalcons1sandbox",
                        "operatorAddress": "akashvaloper1sandbox",
                        "moniker": "sandbox",
                        "avatarUrl": None,
                    },
                    "transactionCount": 0,
                    "totalTransactionCount": 0,
                    "datetime": (_EPOCH + timedelta(seconds=6 * (h - start)))
                    .isoformat()
                    .replace("+00:00", "Z"),
                }
                for h in range(height, max(start - 1, height - limit), -1)
            ]
        )

    def _setting_view(self, setting: DeploymentSetting) -> dict[str, Any]:
        world = self.hub.world
        dep = world.deployments.get((setting.owner, setting.dseq))
        amount = steady_state_amount(world, dep) if setting.auto_top_up_enabled else 0
        return {
            "data": {
                "id": setting.id,
                "userId": setting.user_id,
                "dseq": str(setting.dseq),
                "autoTopUpEnabled": setting.auto_top_up_enabled,
                "estimatedTopUpAmount": amount,
                "topUpFrequencyMs": int(world.config.auto_top_up_look_ahead_hours * 3_600_000),
                "createdAt": setting.created_at,
                "updatedAt": setting.updated_at,
            }
        }

    def _caller(self, request: Request, user_id: str | None) -> tuple[str, str]:
        owner = authenticate(request)
        own = user_id_of(owner)
        if user_id is not None and user_id != own:
            raise ConsoleReject(404, "Deployment setting not found")
        return owner, own

    def _save(self, setting: DeploymentSetting, *, was_enabled: bool) -> None:
        self.hub.world.deployment_settings[(setting.owner, setting.dseq)] = setting
        if setting.auto_top_up_enabled and not was_enabled:
            sweep(self.hub.world, setting.owner)  # Console schedules an immediate job

    async def get_setting(self, request: Request) -> Response:
        dseq = parse_dseq(request.path_params["dseq"], ["dseq"])
        wanted = _user_id_param(request.query_params.get("userId"), ["userId"])
        owner, user = self._caller(request, wanted)
        setting = self.hub.world.deployment_settings.get((owner, dseq))
        if setting is None:
            setting = DeploymentSetting.new(user, owner, dseq, enabled=True)
            self._save(setting, was_enabled=False)
        return JSONResponse(self._setting_view(setting))

    async def create_setting(self, request: Request) -> Response:
        body = await read_json(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise validation_error([issue(["data"], "Required", expected="object")])
        dseq = parse_dseq(data.get("dseq"), ["data", "dseq"])
        enabled = _enabled(data, default=False)
        owner, user = self._caller(request, _user_id_param(data.get("userId"), ["data", "userId"]))
        if (owner, dseq) in self.hub.world.deployment_settings:
            raise ConsoleReject(409, "Deployment setting already exists")
        setting = DeploymentSetting.new(user, owner, dseq, enabled=enabled)
        self._save(setting, was_enabled=False)
        return JSONResponse(self._setting_view(setting), status_code=201)

    async def update_setting(self, request: Request) -> Response:
        dseq = parse_dseq(request.path_params["dseq"], ["dseq"])
        wanted = _user_id_param(request.query_params.get("userId"), ["userId"])
        body = await read_json(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise validation_error([issue(["data"], "Required", expected="object")])
        enabled = _enabled(data, default=None)
        owner, user = self._caller(request, wanted)
        setting = self.hub.world.deployment_settings.get((owner, dseq))
        was = setting is not None and setting.auto_top_up_enabled
        if setting is None:
            setting = DeploymentSetting.new(user, owner, dseq, enabled=bool(enabled))
        else:
            setting.auto_top_up_enabled = bool(enabled)
            setting.touch()
        self._save(setting, was_enabled=was)
        return JSONResponse(self._setting_view(setting))


def _enabled(data: dict[str, Any], *, default: bool | None) -> bool:
    value = data.get("autoTopUpEnabled", default)
    if not isinstance(value, bool):
        received = "undefined" if value is None else type(value).__name__
        raise validation_error(
            [
                issue(
                    ["data", "autoTopUpEnabled"],
                    "Required" if value is None else f"Expected boolean, received {received}",
                    expected="boolean",
                    received=received,
                )
            ]
        )
    return value
