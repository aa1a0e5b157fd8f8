"""Checking what callers hand the registry: service names, deployment facts, metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pydantic

from minds371.errors import FieldIssue, ValidationError
from minds371_registry.records import DeploymentFacts, ServiceName

__all__ = ["check_name", "deployment_facts", "metadata_bytes"]

_NAME = pydantic.TypeAdapter(ServiceName)


def check_name(name: str) -> str:
    """Validate a service name.

    Raises:
        ValidationError: naming ``/name`` and the rule, if it is not a valid service name.
    """
    try:
        return _NAME.validate_python(name)
    except pydantic.ValidationError:
        raise ValidationError(
            [
                FieldIssue(
                    "/name",
                    f"{name!r} is not a service name: lower-case letters, digits, '.', '_' "
                    "and '-', starting and ending with a letter or digit, at most 128 characters",
                )
            ],
            subject="service name",
        ) from None


def deployment_facts(facts: DeploymentFacts | Mapping[str, Any]) -> DeploymentFacts:
    if isinstance(facts, DeploymentFacts):
        return facts
    try:
        return DeploymentFacts.model_validate(dict(facts))
    except pydantic.ValidationError as exc:
        raise ValidationError.from_pydantic(exc, subject="deployment facts") from None
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            [FieldIssue("", f"not a mapping: {exc}")], subject="deployment facts"
        ) from None


def metadata_bytes(metadata: Mapping[str, Any] | pydantic.BaseModel | None) -> bytes:
    if isinstance(metadata, pydantic.BaseModel):
        metadata = metadata.model_dump(mode="json")
    try:
        text = json.dumps(
            dict(metadata or {}),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            [FieldIssue("/metadata", f"must be JSON-serialisable: {exc}")], subject="metadata"
        ) from None
    return text.encode()
