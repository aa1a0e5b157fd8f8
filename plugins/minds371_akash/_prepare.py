"""Turning SDL text into a :class:`~minds371_akash.PreparedDeployment` with the SDL engine."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from minds371.errors import FieldIssue, ValidationError
from minds371_akash._deploy_types import PreparedDeployment, SdlRules
from minds371_akash.diagnose import requirements_from_group_specs
from minds371_akash.pricing import needs_from_group_specs
from minds371_akash.sdl._canonical import manifest_version

__all__ = ["prepare_sdl", "with_value_replaced"]


def _plain(value: Any) -> Any:
    """Go-JSON data as plain dicts and lists, whatever container the SDL engine used."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, str):
        return json.loads(value)
    return json.loads(json.dumps(value, default=str))


def prepare_sdl(sdl: str, *, rules: SdlRules = "go") -> PreparedDeployment:
    """Parse and validate ``sdl``; build its manifest, version hash, groups and needs.

    The result is immutable and depends on the text and the rules alone, so the last few are
    remembered: deploying the same SDL many times parses it once.

    Args:
        sdl: The SDL text.
        rules: Whose rules the network applies: ``go`` (the CLI and providers: the Go SDL
            parser) or ``console`` (Console builds the manifest and its on-chain version with
            chain-sdk TypeScript, which accepts and refuses other SDLs and orders some
            manifests differently; see :func:`minds371_akash.sdl.build_console_manifest`).

    Raises:
        ValidationError: the SDL is invalid under ``rules`` (nothing is sent), could not run
            on any network (an image reference that does not parse, NUL in the environment, a
            persistent volume without a class, placement values no provider has), or its
            groups use more than one denomination.
    """
    if not isinstance(sdl, str) or not sdl.strip():
        raise ValidationError([FieldIssue("", "the SDL is empty")], subject="SDL")
    return _prepare_cached(sdl, rules)


@functools.lru_cache(maxsize=64)
def _prepare_cached(sdl: str, rules: SdlRules) -> PreparedDeployment:
    from minds371_akash.sdl import (
        build_manifest,
        console_manifest_from_data,
        console_rules_data,
        parse_sdl,
    )

    if rules == "console":
        # The text is loaded once: the manifest and the checks on every network read the same
        # data (neither changes it).
        data = console_rules_data(sdl)
        manifest = console_manifest_from_data(data)
        _refuse_unrunnable(data)
    else:
        parsed = parse_sdl(sdl)
        _refuse_unrunnable(parsed)
        manifest = build_manifest(parsed)
    specs: Sequence[Mapping[str, Any]] = _plain(manifest.group_specs)
    groups = requirements_from_group_specs(specs)
    denoms = {g.denom for g in groups}
    if len(denoms) > 1:
        raise ValidationError(
            [
                FieldIssue(
                    "/profiles/placement", f"one pricing denom expected, got {sorted(denoms)}"
                )
            ],
            subject="SDL",
        )
    manifest_groups: Sequence[Mapping[str, Any]] = _plain(manifest.groups)
    services = {
        gseq: tuple(str(s["name"]) for s in group.get("services") or [])
        for gseq, group in enumerate(manifest_groups, 1)
    }
    return PreparedDeployment(
        sdl=sdl,
        manifest=str(manifest.json),
        version=str(manifest.version).lower(),
        group_specs=tuple(specs),
        groups=tuple(groups),
        needs=tuple(needs_from_group_specs(specs)),
        max_price_per_block=sum((g.max_price for g in groups), Decimal(0)),
        denom=denoms.pop() if denoms else "uact",
        services=services,
        rules=rules,
    )


def with_value_replaced(prepared: PreparedDeployment, old: str, new: str) -> PreparedDeployment:
    """``prepared`` as preparing its SDL with ``old`` replaced by ``new`` would give it.

    Only the SDL text, the manifest and its version change. That is exact when ``old`` stands
    only in environment values (a task marker), and ``old`` and ``new`` have the same length
    and consist of characters that YAML writes plain and canonical JSON writes unescaped
    (letters, digits, ``-``): the text is written alike, no size limit or rule tells them
    apart, and the manifest sorts its keys the same. A runtime that deploys one workload for
    many tasks prepares it once with a placeholder this way (``minds371_deploy._marker``).

    Raises:
        ValueError: ``old`` and ``new`` are not of that kind, or ``old`` stands in the groups.
    """
    if len(old) != len(new) or not (_VERBATIM.fullmatch(old) and _VERBATIM.fullmatch(new)):
        raise ValueError("only same-length runs of letters, digits and '-' can be replaced")
    if old in json.dumps(prepared.group_specs):
        raise ValueError("the value to replace stands in the deployment's groups")
    manifest = prepared.manifest.replace(old, new)
    return prepared.model_copy(
        update={
            "sdl": prepared.sdl.replace(old, new),
            "manifest": manifest,
            "version": manifest_version(manifest),
        }
    )


_VERBATIM = re.compile(r"[0-9A-Za-z-]+")


def _refuse_unrunnable(sdl: Any) -> None:
    """Refuse, before any spend, what the network accepts but no provider could run or bid on.

    These checks hold on every network, whichever rules validated the rest of the SDL. ``sdl``
    is SDL text, a parsed SDL, or the data the SDL engine's loader read from the text.
    """
    from minds371_akash.sdl import runnable_issues

    issues = runnable_issues(sdl)
    if issues:
        raise ValidationError(issues, subject="SDL")
