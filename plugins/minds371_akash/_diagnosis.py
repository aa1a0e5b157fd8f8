"""The :class:`Diagnosis` model and how it travels on an error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from minds371.errors import Minds371Error

__all__ = ["Diagnosis", "DiagnosisKind", "attach", "diagnosis_of"]

DiagnosisKind = Literal[
    "no_bids",
    "lease_failed",
    "manifest_rejected",
    "image_pull_failed",
    "crash_loop",
    "not_ready",
    "endpoint_unreachable",
    "insufficient_funds",
    "provider_offline",
    "hostname_in_use",
]


class Diagnosis(BaseModel):
    """What went wrong, the evidence, and what to do.

    Attributes:
        kind: The failure class.
        summary: One sentence for people.
        evidence: Facts that support it (events, provider answers, counts).
        actions: What to do, most useful first.
    """

    model_config = ConfigDict(frozen=True)

    kind: DiagnosisKind
    summary: str
    evidence: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return self.model_dump(mode="json")


E = TypeVar("E", bound=Minds371Error)


def attach(error: E, diagnosis: Diagnosis) -> E:
    """Put ``diagnosis`` on ``error`` (``details["diagnosis"]``) and return the error."""
    error.details["diagnosis"] = diagnosis.to_dict()
    return error


def diagnosis_of(error: BaseException) -> Diagnosis | None:
    """The diagnosis carried by ``error``, if any."""
    details = getattr(error, "details", None)
    raw = details.get("diagnosis") if isinstance(details, Mapping) else None
    return Diagnosis.model_validate(raw) if isinstance(raw, Mapping) else None
