"""The one exception tree of minds371.

Every error the library raises on purpose derives from :class:`Minds371Error`::

    Minds371Error
    ├── ConfigurationError        the user's or developer's mistake in setup
    │   ├── DuplicateRegistration   an action, agent or plugin name registered twice
    │   └── NoAgentForTask          a task whose agent type nobody serves
    ├── ValidationError           bad input; names every field and the reason
    ├── ActionError               an action failed while running
    │   └── ActionNotFound          no action of that name
    ├── TaskCancelled             a task was cancelled before it finished
    ├── RuntimeStopped            the runtime stopped before a task finished
    └── ProviderError             a remote system failed (carries ``retryable``)
        ├── MarketError
        │   ├── NoBidsError
        │   ├── LeaseError
        │   ├── ManifestRejected
        │   ├── InsufficientFunds
        │   └── BudgetExceeded
        └── RegistryError
            ├── SignatureError
            ├── ContentMismatch
            ├── LedgerError
            └── ServiceUnavailable

Retry intent travels on the exception: a caller may retry a :class:`ProviderError` whose
``retryable`` is true and must not retry one whose ``retryable`` is false. Providers translate
``httpx`` and ``eth-account`` errors into this tree at their boundary (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pydantic

__all__ = [
    "ActionError",
    "ActionNotFound",
    "BudgetExceeded",
    "ConfigurationError",
    "ContentMismatch",
    "DuplicateRegistration",
    "FieldIssue",
    "InsufficientFunds",
    "LeaseError",
    "LedgerError",
    "ManifestRejected",
    "MarketError",
    "Minds371Error",
    "NoAgentForTask",
    "NoBidsError",
    "ProviderError",
    "RuntimeStopped",
    "RegistryError",
    "ServiceUnavailable",
    "SignatureError",
    "TaskCancelled",
    "ValidationError",
    "describe_pattern",
    "pointer",
    "sole_exception",
]


class Minds371Error(Exception):
    """Root of every error minds371 raises on purpose.

    Args:
        message: What went wrong and, where possible, what to do about it.
        details: Structured, JSON-serialisable facts about the failure.
    """

    retryable: bool = False

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The error as the structured ``{type, message, details, retryable}`` of a task result."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "details": self.details,
            "retryable": self.retryable,
        }


class ConfigurationError(Minds371Error):
    """The user's or developer's mistake in configuration or setup; retrying will not help."""


class DuplicateRegistration(ConfigurationError):
    """A name (action, agent type, plugin) was registered twice."""


class NoAgentForTask(ConfigurationError):
    """A task was dispatched for an agent type that no registered agent serves."""


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem with one input field.

    Attributes:
        path: Where the problem is, as a JSON-pointer-like path (``/services/web/expose/0/port``).
        message: What is wrong and what to do about it.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


class ValidationError(Minds371Error):
    """Input failed validation; :attr:`issues` names every field and the reason.

    Args:
        issues: Every problem found, not just the first.
        subject: What was being validated (``"deployment request"``, ``"SDL"``).
    """

    def __init__(self, issues: Iterable[FieldIssue], *, subject: str = "input") -> None:
        self.issues: tuple[FieldIssue, ...] = tuple(issues)
        self.subject = subject
        count = len(self.issues)
        noun = "error" if count == 1 else "errors"
        summary = "; ".join(str(issue) for issue in self.issues[:10])
        if count > 10:
            summary += f"; … and {count - 10} more"
        super().__init__(
            f"invalid {subject}: {count} {noun}: {summary}",
            details={"issues": [{"path": i.path, "message": i.message} for i in self.issues]},
        )

    @classmethod
    def from_pydantic(
        cls, exc: pydantic.ValidationError, *, subject: str = "input", prefix: str = ""
    ) -> ValidationError:
        """Translate a pydantic validation error, keeping one issue per failing field."""
        return cls(
            (
                FieldIssue(prefix + pointer(err["loc"]), _pydantic_message(err))
                for err in exc.errors(include_url=False)
            ),
            subject=subject,
        )


def pointer(location: Sequence[Any]) -> str:
    """Render a location tuple (``("services", "web", 0)``) as ``/services/web/0``."""
    return "".join(f"/{part}" for part in location)


#: The patterns our models use, said in words: a person should never be shown a regex.
_PATTERN_WORDS = {
    r"^[a-z]([-a-z0-9]*[a-z0-9])?$": (
        "must be lower-case letters, digits and '-', starting with a letter and not ending "
        "with '-' (e.g. web, api-2)"
    ),
    r"^[a-z][-_a-z0-9]*$": (
        "must be lower-case letters, digits, '-' and '_', starting with a letter (e.g. data)"
    ),
    r"^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$": (
        "must be lower-case letters, digits, '.', '_' and '-', starting and ending with a "
        "letter or digit, at most 128 characters"
    ),
    r"^/": "must be an absolute path (starting with '/')",
    r"^[^/\s]+$": "must be one word, without '/' or spaces",
    r"^[1-9][0-9]*(s|m|h)$": "must be a duration such as 30s, 5m or 1h",
    r"^[0-9a-f]{64}$": "must be 64 lower-case hexadecimal digits (a SHA-256)",
    r"^0x[0-9a-fA-F]{40}$": "must be a 0x-prefixed 20-byte address",
}


def describe_pattern(pattern: str) -> str:
    """What a value matching ``pattern`` looks like, in words (for error messages)."""
    return _PATTERN_WORDS.get(pattern, "has characters or a form that is not allowed here")


def _pydantic_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "string_pattern_mismatch":
        return describe_pattern(str((error.get("ctx") or {}).get("pattern", "")))
    if error.get("type") == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    if error.get("type") == "missing":
        return "required field is missing"
    # Our own validators raise ValueError; pydantic prefixes their text with "Value error, ".
    return message.removeprefix("Value error, ")


class ActionError(Minds371Error):
    """An action failed while it ran."""


class ActionNotFound(ActionError):
    """No action is registered under the requested name."""


class TaskCancelled(Minds371Error):
    """A task was cancelled before it finished."""


class RuntimeStopped(Minds371Error):
    """The runtime stopped before a task finished; the task runs again on the next start."""


class ProviderError(Minds371Error):
    """A remote system (a marketplace, a ledger, a content store) failed.

    Args:
        message: What failed and what to do about it.
        retryable: Whether the same call may succeed if tried again later.
        details: Structured facts (HTTP status, provider address, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retryable = retryable


class MarketError(ProviderError):
    """The Akash marketplace (or a provider on it) refused or failed a request."""


class NoBidsError(MarketError):
    """No provider bid on the deployment's orders in time."""


class LeaseError(MarketError):
    """A lease could not be created, or an existing lease was lost."""


class ManifestRejected(MarketError):
    """A provider rejected the manifest (hash mismatch, invalid, or not matching the order)."""


class InsufficientFunds(MarketError):
    """The account or the deployment's escrow lacks the funds the request needs."""


class BudgetExceeded(MarketError):
    """Going on would spend beyond the configured budget; nothing was spent."""


class RegistryError(ProviderError):
    """The deployment registry (ledger, content store, discovery) failed."""


class SignatureError(RegistryError):
    """A record's signature, signer, sequence or previous-hash does not verify."""


class ContentMismatch(RegistryError):
    """Content fetched under a CID does not hash to that CID."""


class LedgerError(RegistryError):
    """The ledger refused or failed an append, or its integrity check failed."""


class ServiceUnavailable(RegistryError):
    """No endpoint of a registered service answered its health check."""


def sole_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside ``group`` (however deeply nested), or ``group`` if it holds more.

    Task groups (a sandbox's clock, an in-process transport, the CLI's runner) wrap whatever their
    body raised; callers that expect one error get it back unwrapped.
    """
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseExceptionGroup):
            stack.extend(item.exceptions)
        else:
            leaves.append(item)
    return leaves[0] if len(leaves) == 1 else group
