"""Which fields of a JSON Schema carry a secret, and the schema without them.

A secret is a property the schema marks ``writeOnly`` or ``format: password`` (how pydantic writes
``SecretStr``). An object that cannot be given without one (a required secret property) is a
secret as a whole: a registry login without its password is no login. A property is
secret-bearing when its value is a secret, directly or through ``$ref``, unions, arrays and maps;
it is left out of the schema a tool offers, and found in arguments that carry it anyway.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["SchemaSecrets", "prune_secrets"]


def _is_secret_leaf(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("writeOnly")) or schema.get("format") == "password"


class SchemaSecrets:
    """Which properties of a JSON Schema are secret-bearing (see the module's docs)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.defs: Mapping[str, Any] = root.get("$defs", {})
        self._def_secret: dict[str, bool] = {}

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """The schema a local ``$ref`` points to (``schema`` itself when it is none)."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found: Mapping[str, Any] = self.defs.get(ref.removeprefix("#/$defs/"), {})
            return found
        return schema

    def def_is_secret(self, name: str) -> bool:
        """Whether the definition ``name`` cannot be given without a secret."""
        # An object is secret when it cannot be given without a secret (a required one).
        if name not in self._def_secret:
            self._def_secret[name] = False  # a cycle is not a secret
            schema = self.defs.get(name, {})
            required = set(schema.get("required", ()))
            self._def_secret[name] = _is_secret_leaf(schema) or any(
                key in required and self.property_is_secret(sub)
                for key, sub in schema.get("properties", {}).items()
            )
        return self._def_secret[name]

    def property_is_secret(self, schema: Mapping[str, Any]) -> bool:
        """A value of this schema carries a secret (through refs, unions, arrays and maps)."""
        if _is_secret_leaf(schema):
            return True
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return self.def_is_secret(ref.removeprefix("#/$defs/"))
        if "properties" in schema:
            required = set(schema.get("required", ()))
            if any(
                key in required and self.property_is_secret(sub)
                for key, sub in schema["properties"].items()
            ):
                return True
        branches = [*schema.get("anyOf", ()), *schema.get("oneOf", ()), *schema.get("allOf", ())]
        nested = [schema.get(k) for k in ("items", "additionalProperties")]
        return any(
            self.property_is_secret(sub)
            for sub in [*branches, *nested, *schema.get("prefixItems", ())]
            if isinstance(sub, Mapping)
        )

    def secret_keys(self, schema: Mapping[str, Any]) -> set[str]:
        """The secret-bearing properties of an object schema."""
        return {
            key for key, sub in schema.get("properties", {}).items() if self.property_is_secret(sub)
        }

    def find(self, value: Any, schema: Mapping[str, Any], path: str, found: list[str]) -> None:
        """Append to ``found`` the path of every secret-bearing property ``value`` carries."""
        schema = self.resolve(schema)
        for branch in [
            *schema.get("anyOf", ()),
            *schema.get("oneOf", ()),
            *schema.get("allOf", ()),
        ]:
            self.find(value, branch, path, found)
        if isinstance(value, Mapping):
            secret = self.secret_keys(schema)
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            for key, sub_value in value.items():
                where = f"{path}/{key}"
                if key in secret:
                    if where not in found:
                        found.append(where)
                elif key in properties:
                    self.find(sub_value, properties[key], where, found)
                elif isinstance(extra, Mapping):
                    self.find(sub_value, extra, where, found)
        elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            for index, item in enumerate(value):
                self.find(item, schema["items"], f"{path}/{index}", found)


def prune_secrets(schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``schema`` less its secret-bearing properties (and the defs only they used), and paths."""
    walker = SchemaSecrets(schema)
    pruned = copy.deepcopy(schema)
    removed: list[str] = []

    def prune(node: Any, where: str) -> None:
        if isinstance(node, dict):
            secret = walker.secret_keys(node) if "properties" in node else set()
            for key in sorted(secret):
                del node["properties"][key]
                removed.append(f"{where}/properties/{key}")
            if secret and "required" in node:
                node["required"] = [k for k in node["required"] if k not in secret]
            for key, sub in node.items():
                prune(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                prune(sub, f"{where}/{index}")

    prune(pruned, "")
    defs = pruned.get("$defs")
    if isinstance(defs, dict):
        for name in [n for n in defs if walker.def_is_secret(n)]:
            del defs[name]
            removed.append(f"/$defs/{name}")
    return pruned, removed
