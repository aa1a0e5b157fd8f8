"""Which endpoint hosts discovery may probe: only addresses a public provider could own.

A record's endpoints come from a provider's lease status, so a signed record can still name
``127.0.0.1``, ``10.0.0.5`` or ``169.254.169.254`` (a cloud metadata service): probing those would
let whoever controls a provider's answers make every discovering client send requests into its own
machine or network. Discovery therefore refuses, unless configured to allow them, hosts that are
not globally routable unicast addresses (loopback, private, shared, link-local, multicast,
reserved, documentation, unspecified; IPv4-mapped IPv6 included), and names that resolve to any
such address. A name is resolved here and again by the probe's own connection, so a name whose
answers change between the two (DNS rebinding) is still a residual risk; the answer is checked,
not pinned.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

__all__ = ["Resolver", "private_address_refusal"]


def _why_not_public(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_link_local:
        return "a link-local address"
    if not ip.is_global:
        return "a private or reserved address"
    return None


Resolver = Callable[[str], Awaitable[Sequence[str]]]


async def _resolve(host: str) -> list[str]:
    infos: Sequence[Any] = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def private_address_refusal(host: str, *, resolve: Resolver = _resolve) -> str | None:
    """Why ``host`` must not be probed, or None if it is (or resolves only to) public addresses.

    Args:
        host: An address or a name.
        resolve: Gives a name's addresses (default: the system resolver).

    A name that does not resolve is not refused here: its probe fails on its own.
    """
    if host in ("localhost", "") or host.endswith(".localhost"):
        return f"{host or 'an empty host'} is this machine"
    try:
        why = _why_not_public(host)
    except ValueError:
        pass  # a name, not an address
    else:
        return f"{host} is {why}" if why else None
    try:
        addresses = await resolve(host)
    except OSError:
        return None
    for address in addresses:
        why = _why_not_public(address)
        if why:
            return f"{host} resolves to {address}, {why}"
    return None
