"""Put a private registry's password back into a journaled manifest before it is resent.

A manifest holds each service's registry login (``credentials``: host, username, password) in
clear, because the provider needs it to pull. The journal stores the manifest the network
returned, scrubbed like every other step: the password, registered as a secret, is stored as
``***``. Sent as journaled, that manifest would no longer hash to the on-chain version (the
provider answers 422) and, if it did, the pull would fail on a wrong password.

The password is not lost: it is in the task's SDL, which is rebuilt from the task payload (or
from the operator's registry configuration for a built image) on resume. This module takes the
journaled manifest's exact bytes and replaces each redacted password with the same service's
password token from the manifest computed from that SDL under the same network's rules, so the
restored text is byte for byte the one the network returned.
"""

from __future__ import annotations

import json
import re
from typing import Any

from minds371.errors import ConfigurationError
from minds371.logging import REDACTED

__all__ = ["restore_credentials"]

# A credentials object's password member with its raw JSON string token. An escaped quote inside
# another string (an env value that mentions "password") cannot match: there the key's quotes are
# preceded by a backslash and followed by one.
_PASSWORD = re.compile(r'"password"\s*:\s*("(?:[^"\\]|\\.)*")')


def restore_credentials(journaled: str, computed: str) -> str:
    """``journaled`` with every redacted registry password put back from ``computed``.

    Args:
        journaled: The manifest as the journal holds it (possibly with ``***`` passwords).
        computed: The manifest the task's SDL gives under the network's rules.

    Returns:
        ``journaled`` itself when no password in it is redacted.

    Raises:
        ConfigurationError: a redacted password whose service has no password in ``computed``
            (the registry login is no longer configured), so the manifest cannot be resent.
    """
    journaled_owners = _password_owners(journaled)
    if not any(password == REDACTED for _, password in journaled_owners):
        return journaled
    computed_tokens = dict(
        zip(
            (owner for owner, _ in _password_owners(computed)),
            (m.group(1) for m in _PASSWORD.finditer(computed)),
            strict=True,
        )
    )
    matches = list(_PASSWORD.finditer(journaled))
    if len(matches) != len(journaled_owners):
        raise ConfigurationError("the journaled manifest's registry logins cannot be read back")
    pieces: list[str] = []
    end = 0
    for match, (owner, password) in zip(matches, journaled_owners, strict=True):
        if password != REDACTED:
            continue
        token = computed_tokens.get(owner)
        if token is None or json.loads(token) == REDACTED:
            group, service = owner
            raise ConfigurationError(
                f"the manifest of service {service!r} (group {group!r}) needs its registry "
                "password to be resent, and the current configuration does not give it: "
                "configure the same registry login again"
            )
        pieces += [journaled[end : match.start(1)], token]
        end = match.end(1)
    return "".join([*pieces, journaled[end:]])


def _password_owners(manifest: str) -> list[tuple[tuple[str, str], str]]:
    """``((group, service), password)`` of each credentials password, in document order."""
    try:
        groups: Any = json.loads(manifest)
    except ValueError:
        return []
    owners: list[tuple[tuple[str, str], str]] = []
    for group in groups if isinstance(groups, list) else ():
        services = group.get("services") or group.get("Services") or ()
        group_name = str(group.get("name") or group.get("Name") or "")
        for service in services:
            creds = service.get("credentials") or service.get("Credentials")
            if isinstance(creds, dict) and isinstance(creds.get("password"), str):
                owners.append(((group_name, str(service.get("name", ""))), creds["password"]))
    return owners
