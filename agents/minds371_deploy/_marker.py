"""The task marker: which task a deployment belongs to, written into the deployment itself.

Every service of a task's SDL gets ``MINDS371_DEPLOYMENT=<task id>`` in its environment. The
marker changes the manifest version hash, so after a crash between creating a deployment and
recording it, the deployment is found again by that hash, and a task never adopts a deployment
another task made.

Writing each task's SDL as YAML again costs more than the rest of preparing it, and a runtime
often deploys one workload for many tasks: :func:`marked_sdl` marks a workload's SDL once with a
placeholder, and gives each task that text with its id in place of the placeholder.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minds371.errors import ValidationError
from minds371_akash import PreparedDeployment
from minds371_akash._deploy_types import SdlRules
from minds371_akash._prepare import prepare_sdl, with_value_replaced
from minds371_deploy._yaml import dump_sdl, load_checked_sdl
from minds371_deploy.redundancy import check_sdl

__all__ = ["TASK_ENV", "MarkedSdl", "marked_sdl", "with_task_marker"]

#: Set in every service's environment: ties a deployment (and its manifest hash) to its task.
TASK_ENV = "MINDS371_DEPLOYMENT"


def with_task_marker(sdl: str | dict[str, Any], task_id: str) -> str:
    """Add ``MINDS371_DEPLOYMENT=<task id>`` to every service's env (see :data:`TASK_ENV`).

    ``sdl`` is SDL text the SDL engine has accepted, or the data safe YAML loading reads from
    such text (changed in place; see
    :meth:`~minds371_deploy.request.DeploymentRequest.base_sdl_data`): the text written is the
    same either way.
    """
    document = load_checked_sdl(sdl) if isinstance(sdl, str) else sdl
    for service in document["services"].values():
        env = [e for e in service.get("env") or [] if not str(e).startswith(f"{TASK_ENV}=")]
        service["env"] = [*env, f"{TASK_ENV}={task_id}"]
    return dump_sdl(document)


# The ids a template serves (the runtime's task ids are UUIDs in hex): a template's placeholder is
# random hex of the id's length, so that YAML writes the two alike and no SDL rule or size limit
# tells them apart.
_TEMPLATE_ID = re.compile(r"[0-9a-f-]{32,64}")
_TEMPLATES_KEPT = 64


@dataclass
class _Template:
    """A workload's SDL marked with a placeholder id, and what its checks found (per rules)."""

    text: str
    placeholder: str
    checked: set[SdlRules] = field(default_factory=set)
    prepared: dict[SdlRules, PreparedDeployment | None] = field(default_factory=dict)


@dataclass(frozen=True)
class MarkedSdl:
    """A task's SDL with its marker, and the template it was written from (if any).

    Attributes:
        text: The SDL text (what :func:`with_task_marker` writes for the task).
        task_id: The task's id, as marked.
    """

    text: str
    task_id: str
    _template: _Template | None = None

    def check(self, rules: SdlRules) -> None:
        """Check the text by ``rules`` (:func:`~minds371_deploy.redundancy.check_sdl`).

        A template's text is checked once; the task's own text is checked when the template's
        fails, so that the error names the task's own values.

        Raises:
            ValidationError: as :func:`~minds371_deploy.redundancy.check_sdl`.
        """
        template = self._template
        if template is None:
            check_sdl(self.text, rules, prepared_next=True)
            return
        if rules not in template.checked:
            try:
                check_sdl(template.text, rules)
            except ValidationError:
                check_sdl(self.text, rules)
                return
            template.checked.add(rules)

    def prepared(self, rules: SdlRules) -> PreparedDeployment | None:
        """The text prepared by ``rules``, derived from its template's preparation.

        ``None`` without a template, or when the template does not prepare: preparing the
        task's own text then says why (:func:`~minds371_akash.prepare_sdl`).
        """
        template = self._template
        if template is None:
            return None
        if rules not in template.prepared:
            try:
                template.prepared[rules] = prepare_sdl(template.text, rules=rules)
            except ValidationError:
                template.prepared[rules] = None
        base = template.prepared[rules]
        if base is None:
            return None
        return with_value_replaced(base, template.placeholder, self.task_id)


_templates: OrderedDict[tuple[str, int], _Template] = OrderedDict()


def marked_sdl(key: str, base: Callable[[], dict[str, Any]], task_id: str) -> MarkedSdl:
    """The task's SDL with its marker: :func:`with_task_marker` of ``base()``.

    ``key`` names the base SDL (requests with the same key have the same base SDL;
    :meth:`~minds371_deploy.request.DeploymentRequest.base_sdl_key`), and ``base`` builds its
    data. For a task id of 32 to 64 hex digits and dashes (the runtime's are UUIDs in hex) the
    SDL is the key's template with the id in place of its placeholder; the templates of the last
    few keys are kept.
    """
    if not _TEMPLATE_ID.fullmatch(task_id):
        return MarkedSdl(with_task_marker(base(), task_id), task_id)
    slot = (key, len(task_id))
    template = _templates.get(slot)
    if template is None:
        document = base()
        placeholder = secrets.token_hex(32)[: len(task_id)]
        template = _Template(with_task_marker(document, placeholder), placeholder)
        if template.text.count(placeholder) != len(document["services"]):
            # The placeholder stands somewhere else too: no template for this one.
            return MarkedSdl(with_task_marker(base(), task_id), task_id)
        _templates[slot] = template
        while len(_templates) > _TEMPLATES_KEPT:
            _templates.popitem(last=False)
    else:
        with contextlib.suppress(KeyError):  # another thread's runtime may have let it go
            _templates.move_to_end(slot)
    return MarkedSdl(template.text.replace(template.placeholder, task_id), task_id, template)
