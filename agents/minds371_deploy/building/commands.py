"""``build_commands``: what runs in the clone before the image is built, as argv lists.

A command is a list of arguments (``["npm", "run", "build"]``), run as it is, or a string,
split like a shell would split words (``"npm run build"``) but never given to a shell: a string
holding shell syntax (``&&``, ``|``, ``>``, ``$VAR``, backquotes) is refused unless the request
sets ``build_shell: true``, which runs each string with ``sh -c`` (its own choice, said
explicitly). Commands run with a minimal environment (no variable of the agent's own, which may
hold keys), each bounded by the request's ``build_timeout``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

__all__ = ["command_argv", "command_problem"]

_SHELL_TOKENS = frozenset({"&&", "||", "|", ";", "&", ">", ">>", "<", "<<", "2>", "2>&1"})
_SHELL_CHARS = frozenset("$`|;&<>")


def command_problem(command: str | Sequence[str], shell: bool) -> str | None:
    """What is wrong with one build command, in words; ``None`` when it can run."""
    if isinstance(command, str):
        if "\x00" in command:
            return "must not contain a NUL character"
        if shell:
            return None
        try:
            words = shlex.split(command)
        except ValueError as exc:
            return f"cannot be split into arguments ({exc})"
        if not words:
            return "is empty"
        if any(word in _SHELL_TOKENS or _SHELL_CHARS & set(word) for word in words):
            return (
                "uses shell syntax (&&, |, ;, >, $, `): give it as an argument list, or set "
                "build_shell: true to run the string with sh -c"
            )
        return None
    if not command or not command[0]:
        return "an argument list needs a program as its first item"
    if any("\x00" in word for word in command):
        return "must not contain a NUL character"
    return None


def command_argv(command: str | Sequence[str], shell: bool) -> list[str]:
    """The argv one (valid) build command runs as."""
    if isinstance(command, str):
        return ["sh", "-c", command] if shell else shlex.split(command)
    return list(command)
