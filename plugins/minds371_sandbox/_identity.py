"""Sandbox identities: deterministic keys and ``akash1…`` addresses, and ES256K provider JWTs.

The sandbox has no wallets. An account's secp256k1 key is derived from what names it: a Console API
key (``x-api-key``) or a CLI key name (``--from NAME``). The address is derived from the key the way
Cosmos derives it (bech32 ``akash`` of ``ripemd160(sha256(compressed public key))``), so addresses
look and validate like real ones. These keys exist only to make the sandbox's JWTs verifiable: they
must never hold real funds, which is why the derivation is public and documented.

Provider JWTs follow ``chain-sdk:specs/jwt-schema.json``: alg ``ES256K``, a 64-byte ``r||s``
signature over ``sha256(header.payload)``, verified against the issuer's on-chain public key.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_keys.datatypes import NonRecoverableSignature, PrivateKey, PublicKey
from eth_keys.main import KeyAPI

__all__ = [
    "AUDITOR",
    "TRIAL_KEY_PREFIX",
    "Identity",
    "JwtError",
    "address_of",
    "bech32_decode",
    "bech32_encode",
    "identity_for_api_key",
    "identity_for_key_name",
    "is_trial_api_key",
    "issue_jwt",
    "verify_jwt",
]

#: The auditor Console requires (``MANAGED_WALLET_LEASE_ALLOWED_AUDITORS``).
AUDITOR = "akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63"

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= _GEN[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (to_bits - bits)) & maxv)
    elif not pad and (bits >= from_bits or ((acc << (to_bits - bits)) & maxv)):
        raise ValueError("invalid bech32 padding")
    return out


def bech32_encode(hrp: str, payload: bytes) -> str:
    """Encode ``payload`` as a bech32 string with human-readable part ``hrp`` (BIP-173)."""
    data = _convert_bits(payload, 8, 5, True)
    values = _hrp_expand(hrp) + data
    polymod = _polymod([*values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def bech32_decode(address: str) -> tuple[str, bytes]:
    """Decode a bech32 string into ``(hrp, payload)``.

    Raises:
        ValueError: If the string is not valid bech32 (bad characters or checksum).
    """
    if address.lower() != address and address.upper() != address:
        raise ValueError("mixed case")
    address = address.lower()
    pos = address.rfind("1")
    if pos < 1 or pos + 7 > len(address):
        raise ValueError("no separator")
    hrp, rest = address[:pos], address[pos + 1 :]
    if any(c not in _CHARSET for c in rest):
        raise ValueError("invalid character")
    data = [_CHARSET.index(c) for c in rest]
    if _polymod(_hrp_expand(hrp) + data) != 1:
        raise ValueError("bad checksum")
    return hrp, bytes(_convert_bits(data[:-6], 5, 8, False))


def _ripemd160(data: bytes) -> bytes:
    try:
        return hashlib.new("ripemd160", data).digest()
    except ValueError:  # pragma: no cover - OpenSSL builds without legacy digests
        # Still deterministic and 20 bytes; only the Cosmos-exactness is lost.
        return hashlib.sha256(b"ripemd160-fallback" + data).digest()[:20]


def address_of(public_key: bytes) -> str:
    """The ``akash1…`` address of a 33-byte compressed secp256k1 public key."""
    return bech32_encode("akash", _ripemd160(hashlib.sha256(public_key).digest()))


@dataclass(frozen=True, slots=True)
class Identity:
    """A sandbox account's key pair and address.

    Attributes:
        address: The bech32 ``akash1…`` address.
        public_key: The 33-byte compressed secp256k1 public key.
    """

    address: str
    public_key: bytes
    _private: bytes

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """Derive an identity from arbitrary seed bytes."""
        private = PrivateKey(hashlib.sha256(seed).digest())
        public = private.public_key.to_compressed_bytes()
        return cls(address=address_of(public), public_key=public, _private=private.to_bytes())

    def sign(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest; returns the 64-byte ``r||s`` signature."""
        signature = PrivateKey(self._private).sign_msg_hash(digest)
        r: int = signature.r
        s: int = signature.s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:  # the private half never appears in a repr or a log
        return f"Identity(address={self.address!r})"


@functools.lru_cache(maxsize=4096)  # deriving a public key costs ~1 ms in pure Python
def identity_for_api_key(api_key: str) -> Identity:
    """The account the sandbox's Console API assigns to an ``x-api-key`` value."""
    return Identity.from_seed(b"minds371-sandbox/api-key/" + api_key.encode())


#: API keys starting with this name a trialing Console wallet (``UserWallet.isTrialing``).
TRIAL_KEY_PREFIX = "sandbox-trial-"


def is_trial_api_key(api_key: str) -> bool:
    """Whether the sandbox's Console treats the wallet of ``api_key`` as a trial wallet."""
    return api_key.startswith(TRIAL_KEY_PREFIX)


@functools.lru_cache(maxsize=4096)
def identity_for_key_name(name: str) -> Identity:
    """The account a CLI stand-in uses for ``--from NAME``."""
    return Identity.from_seed(b"minds371-sandbox/key-name/" + name.encode())


class JwtError(Exception):
    """A provider JWT is malformed, badly signed, expired or not valid yet.

    Attributes:
        status: The HTTP status a provider answers with (400 or 401).
    """

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_jwt(
    identity: Identity,
    *,
    ttl: int,
    leases: Mapping[str, Any],
    now: float | None = None,
) -> str:
    """Issue an ES256K provider JWT for ``identity`` valid ``ttl`` seconds."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "ES256K", "typ": "JWT"}
    payload = {
        "iss": identity.address,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl),
        "version": "v1",
        "leases": dict(leases),
    }
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    signature = identity.sign(hashlib.sha256(signing_input.encode()).digest())
    return signing_input + "." + _b64url(signature)


def verify_jwt(
    token: str,
    public_key_of: Callable[[str], bytes | None],
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify an ES256K JWT and return its claims.

    Args:
        token: The compact JWT.
        public_key_of: Looks up the issuer's on-chain public key (None when it has none).
        now: The current unix time (defaults to the clock).

    Raises:
        JwtError: With the provider's message and status when the token is not acceptable.
    """
    try:
        head_b64, payload_b64, sig_b64 = token.split(".")
        header = json.loads(_b64url_decode(head_b64))
        claims = json.loads(_b64url_decode(payload_b64))
        signature = _b64url_decode(sig_b64)
    except (ValueError, json.JSONDecodeError) as exc:
        raise JwtError("JWT is invalid") from exc
    if not isinstance(header, dict) or header.get("alg") != "ES256K" or len(signature) != 64:
        raise JwtError("JWT is invalid")
    if not isinstance(claims, dict) or claims.get("version") != "v1" or "leases" not in claims:
        raise JwtError("JWT has invalid claims", status=400)
    issuer = claims.get("iss")
    public = public_key_of(issuer) if isinstance(issuer, str) else None
    if public is None:
        raise JwtError("JWT is invalid")
    digest = hashlib.sha256(f"{head_b64}.{payload_b64}".encode()).digest()
    sig = NonRecoverableSignature(
        rs=(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    )
    if not KeyAPI().ecdsa_verify(digest, sig, PublicKey.from_compressed_bytes(public)):
        raise JwtError("JWT is invalid")
    current = time.time() if now is None else now
    try:
        expires, not_before = float(claims["exp"]), float(claims["nbf"])
    except (KeyError, TypeError, ValueError) as exc:
        raise JwtError("JWT has invalid claims", status=400) from exc
    if current >= expires:
        raise JwtError("JWT is expired")
    if current < not_before:
        raise JwtError("JWT is invalid")
    return claims
