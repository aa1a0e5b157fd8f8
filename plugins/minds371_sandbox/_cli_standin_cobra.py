"""Command lines parsed the way the real binaries' cobra and pflag parse them.

The stand-ins accept exactly the flags the real commands define (local, inherited persistent,
cobra's ``-h/--help``) and refuse anything else with cobra's and pflag's own words::

    Error: unknown shorthand flag: 'o' in -o
    Error: unknown flag: --chain-id
    Error: required flag(s) "dseq", "from" not set
    Error: accepts 1 arg(s), received 0
    Error: unknown command "frobnicate" for "akash tx deployment"

Flags are bound to the environment as chain-sdk ``go/cli/configs.go`` ``bindFlags`` does: a flag
not given takes ``<PREFIX>_<FLAG_NAME>`` (upper case, ``-`` as ``_``) from the first prefix that is
set (``AKASH`` for ``akash``; ``AP`` then ``AKASH`` for ``provider-services``), and counts as
given for ``required``.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CobraError", "Command", "Flag", "HelpRequested", "parse_command"]


class CobraError(Exception):
    """A command-line error, printed as ``Error: <message>`` with exit code 1."""


class HelpRequested(Exception):
    """``-h`` / ``--help``: the command's usage, exit code 0."""


@dataclass(frozen=True)
class Flag:
    """One pflag flag.

    Attributes:
        name: Long name (``dseq``).
        kind: ``string``, ``bool``, ``uint64``, ``uint32``, ``int64``, ``int32``, ``int``,
            ``float64``, ``duration`` or ``strings`` (a string slice).
        default: The value when neither given nor bound from the environment.
        short: One-letter shorthand, if any.
    """

    name: str
    kind: str = "string"
    default: Any = ""
    short: str = ""


@dataclass
class Command:
    """One cobra command.

    Attributes:
        name: The command word.
        flags: Its local flags.
        persistent: Flags it gives its sub-commands too.
        children: Sub-commands.
        aliases: Other words for it.
        args: Names of its positional arguments (set on the result by these names).
        arg_rule: ``exact`` (``cobra.ExactArgs``), ``min`` (``cobra.MinimumNArgs``) or ``any``.
        required: Flags that must be given (``MarkFlagRequired``).
        run: What it does with the parsed namespace; ``None`` for a command group.
    """

    name: str
    flags: list[Flag] = field(default_factory=list)
    persistent: list[Flag] = field(default_factory=list)
    children: list[Command] = field(default_factory=list)
    aliases: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    arg_rule: str = "exact"
    required: tuple[str, ...] = ()
    run: Callable[[argparse.Namespace], int] | None = None
    parent: Command | None = field(default=None, repr=False)

    def add(self, *children: Command) -> Command:
        """Add sub-commands; returns self."""
        for child in children:
            child.parent = self
            self.children.append(child)
        return self

    def path(self) -> str:
        """``akash tx deployment``."""
        return f"{self.parent.path()} {self.name}" if self.parent else self.name

    def find(self, word: str) -> Command | None:
        """The sub-command called ``word``."""
        return next((c for c in self.children if word in (c.name, *c.aliases)), None)

    def all_flags(self) -> dict[str, Flag]:
        """Local flags and every ancestor's persistent flags (a local flag shadows)."""
        found: dict[str, Flag] = {}
        chain: list[Command] = []
        node: Command | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        for cmd in reversed(chain):
            for flag in cmd.persistent:
                found[flag.name] = flag
        for flag in self.flags:
            found[flag.name] = flag
        return found


def _env_key(prefix: str, name: str) -> str:
    return f"{prefix}_{name.replace('-', '_').replace('.', '_').upper()}"


_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def _convert(flag: Flag, value: str, shown: str) -> Any:
    """``value`` as the flag's type, with pflag's error text when it is not one."""
    try:
        return _CONVERTERS[flag.kind](flag, value)
    except ValueError as exc:
        raise CobraError(f'invalid argument "{value}" for "{shown}" flag: {exc}') from None


def _to_bool(flag: Flag, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _to_uint(flag: Flag, value: str) -> int:
    if not value.isdigit():
        raise ValueError(f'strconv.ParseUint: parsing "{value}": invalid syntax')
    if int(value) >= 1 << (64 if flag.kind == "uint64" else 32):
        raise ValueError(f'strconv.ParseUint: parsing "{value}": value out of range')
    return int(value)


def _to_int(flag: Flag, value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _to_float(flag: Flag, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None


def _to_duration(flag: Flag, value: str) -> str:
    if value == "0" or _DURATION.match(value):
        return value
    raise ValueError(f'time: invalid duration "{value}"')


_CONVERTERS: dict[str, Callable[[Flag, str], Any]] = {
    "string": lambda flag, value: value,
    "strings": lambda flag, value: value.split(",") if value else [],
    "bool": _to_bool,
    "uint64": _to_uint,
    "uint32": _to_uint,
    "int64": _to_int,
    "int32": _to_int,
    "int": _to_int,
    "float64": _to_float,
    "duration": _to_duration,
}


def _strip_flags(words: Sequence[str], flags: Mapping[str, Flag]) -> list[str]:
    """The words that are not flags or flag values (cobra's ``stripFlags``)."""
    shorts = {f.short: f for f in flags.values() if f.short}
    out: list[str] = []
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--":
            break
        if word.startswith("--") and "=" not in word:
            known = flags.get(word[2:])
            if known is None or known.kind != "bool":
                if len(rest) <= 1:
                    break
                rest.pop(0)
            continue
        if word.startswith("-") and "=" not in word and len(word) == 2:
            known = shorts.get(word[1:])
            if known is None or known.kind != "bool":
                if len(rest) <= 1:
                    break
                rest.pop(0)
            continue
        if word and not word.startswith("-"):
            out.append(word)
    return out


def _find(root: Command, argv: Sequence[str]) -> tuple[Command, list[str]]:
    """The command ``argv`` names and the words left for it (cobra's ``Find``)."""
    cmd, rest = root, list(argv)
    while cmd.children:
        words = _strip_flags(rest, cmd.all_flags())
        if not words:
            return cmd, rest
        child = cmd.find(words[0])
        if child is None:
            raise CobraError(f'unknown command "{words[0]}" for "{cmd.path()}"')
        rest.remove(words[0])
        cmd = child
    return cmd, rest


class _Parsed:
    """What pflag's ``Parse`` found: values, which flags were given, positional words."""

    def __init__(self, flags: Mapping[str, Flag]) -> None:
        self.flags = flags
        self.shorts = {f.short: f for f in flags.values() if f.short}
        self.values: dict[str, Any] = {}
        self.given: set[str] = set()
        self.positional: list[str] = []

    def set(self, flag: Flag, value: str, shown: str) -> None:
        converted = _convert(flag, value, shown)
        if flag.kind == "strings" and flag.name in self.given:
            converted = [*self.values[flag.name], *converted]
        self.values[flag.name] = converted
        self.given.add(flag.name)

    def long(self, word: str, rest: list[str]) -> None:
        name, has_value, inline = word[2:].partition("=")
        if not name or name.startswith(("-", "=")):
            raise CobraError(f"bad flag syntax: {word}")
        flag = self.flags.get(name)
        if flag is None:
            if name == "help":
                raise HelpRequested
            raise CobraError(f"unknown flag: --{name}")
        if has_value:
            self.set(flag, inline, f"--{name}")
        elif flag.kind == "bool":
            self.set(flag, "true", f"--{name}")
        elif rest:
            self.set(flag, rest.pop(0), f"--{name}")
        else:
            raise CobraError(f"flag needs an argument: {word}")

    def short(self, letters: str, rest: list[str]) -> None:
        while letters:
            letter = letters[0]
            flag = self.shorts.get(letter)
            if flag is None:
                if letter == "h":
                    raise HelpRequested
                raise CobraError(f"unknown shorthand flag: '{letter}' in -{letters}")
            shown = f"-{letter}, --{flag.name}"
            if len(letters) > 2 and letters[1] == "=":
                self.set(flag, letters[2:], shown)
                return
            if flag.kind == "bool":
                self.set(flag, "true", shown)
                letters = letters[1:]
                continue
            if len(letters) > 1:
                self.set(flag, letters[1:], shown)
            elif rest:
                self.set(flag, rest.pop(0), shown)
            else:
                raise CobraError(f"flag needs an argument: '{letter}' in -{letters}")
            return


def _parse_flags(cmd: Command, words: Sequence[str]) -> _Parsed:
    """Pflag's ``Parse`` over the command's flags."""
    parsed = _Parsed(cmd.all_flags())
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if len(word) < 2 or not word.startswith("-"):
            parsed.positional.append(word)
        elif word == "--":
            parsed.positional += rest
            break
        elif word.startswith("--"):
            parsed.long(word, rest)
        else:
            parsed.short(word[1:], rest)
    return parsed


def parse_command(
    root: Command,
    argv: Sequence[str],
    *,
    env_prefixes: Sequence[str],
    environ: Mapping[str, str] | None = None,
) -> tuple[Command, argparse.Namespace]:
    """The command ``argv`` names and its flags and arguments as a namespace.

    Flag ``foo-bar`` becomes attribute ``foo_bar`` (``from`` becomes ``from_``); positional
    arguments take the names in :attr:`Command.args`; ``changed`` holds the flags given on the
    command line or by the environment.

    Raises:
        CobraError: An error cobra or pflag would report.
        HelpRequested: ``-h`` or ``--help``.
    """
    env = os.environ if environ is None else environ
    cmd, rest = _find(root, argv)
    parsed = _parse_flags(cmd, rest)
    values, given, positional = parsed.values, parsed.given, parsed.positional
    if cmd.run is None:
        if positional:
            raise CobraError(f'unknown command "{positional[0]}" for "{cmd.path()}"')
        raise HelpRequested
    count = len(cmd.args)
    if cmd.arg_rule == "exact" and len(positional) != count:
        raise CobraError(f"accepts {count} arg(s), received {len(positional)}")
    if cmd.arg_rule == "min" and len(positional) < count:
        raise CobraError(f"requires at least {count} arg(s), only received {len(positional)}")
    flags = cmd.all_flags()
    for name, flag in sorted(flags.items()):
        if name in given:
            continue
        for prefix in env_prefixes:
            bound = env.get(_env_key(prefix, name))
            if bound is not None and bound != "":
                values[name] = _convert(flag, bound, f"--{name}")
                given.add(name)
                break
    missing = [name for name in sorted(cmd.required) if name not in given]
    if missing:
        raise CobraError('required flag(s) "' + '", "'.join(missing) + '" not set')
    namespace = argparse.Namespace()
    for name, flag in flags.items():
        attribute = "from_" if name == "from" else name.replace("-", "_")
        setattr(namespace, attribute, values.get(name, flag.default))
    for index, name in enumerate(cmd.args):
        setattr(namespace, name, positional[index] if index < len(positional) else None)
    namespace.extra_args = positional[count:]
    namespace.changed = given
    namespace.run = cmd.run
    namespace.command = cmd.path()
    return cmd, namespace
