"""Console's manifest generation: its SDL rewrites, then chain-sdk TypeScript's rules.

``console:apps/api/src/deployment/services/sdl/sdl.service.ts`` reads the SDL with js-yaml,
rewrites every price object's ``denom`` to the deployment grant denom (``uact``), appends the
allowed auditors to each placement's ``signedBy.anyOf`` and calls chain-sdk's
``generateManifest``; ``deployment-writer.service.ts`` then hashes ``manifest.groups`` with
``generateManifestVersion`` for ``MsgCreateDeployment.hash`` / ``MsgUpdateDeployment.hash`` and
returns ``manifestToSortedJSON(manifest.groups)``. The TypeScript rules themselves
(``chain-sdk:ts/src/sdl``) are the SDL engine's Console rule set
(:func:`minds371_akash.sdl.console_manifest_from_data`), whose manifest differs from Go's for some
SDLs; a provider accepts whichever manifest re-hashes to the version on chain.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from minds371.errors import FieldIssue, ValidationError

__all__ = ["CONSOLE_DENOM", "console_build"]

CONSOLE_DENOM = "uact"


def _rewrite(data: Any, auditor: str) -> None:
    from minds371_akash.sdl._ts_manifest import price_objects

    for price in price_objects(data):
        price["denom"] = CONSOLE_DENOM
    profiles = data.get("profiles") if isinstance(data, dict) else None
    placements = profiles.get("placement") if isinstance(profiles, dict) else None
    if not isinstance(placements, dict):
        return
    for infra in placements.values():
        if not isinstance(infra, dict):
            continue
        if infra.get("signedBy") is None:  # `value.signedBy ??= {}`
            infra["signedBy"] = {}
        signed = infra["signedBy"]
        if not isinstance(signed, dict):
            continue
        if signed.get("anyOf") is None:
            signed["anyOf"] = []
        any_of = signed["anyOf"]
        if isinstance(any_of, list) and auditor not in any_of:
            any_of.append(auditor)


@functools.lru_cache(maxsize=256)  # many deployments of one SDL (load tests) build it once
def console_build(text: str, auditor: str) -> tuple[str, str, bytes]:
    """Build an SDL as Console does: ``(group specs JSON, manifest JSON, version bytes)``.

    Raises:
        ValidationError: what Console answers with 400 "Invalid SDL: …" (schema and
            cross-reference errors, YAML errors) or would fail on when building.
    """
    from minds371_akash.sdl import console_manifest_from_data
    from minds371_akash.sdl._ts_rules import check_console_rules
    from minds371_akash.sdl._yaml import load_yaml

    data = load_yaml(text)
    _rewrite(data, auditor)
    issues = check_console_rules(data)
    if issues:
        raise ValidationError(issues, subject="SDL")
    try:
        built = console_manifest_from_data(data)
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ValidationError([FieldIssue("/", f"cannot build the manifest: {exc}")]) from exc
    return json.dumps(built.group_specs), built.json, bytes(built.version_bytes)
