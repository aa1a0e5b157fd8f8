"""RFC 2136 dynamic DNS update, signed with a TSIG key (RFC 8945), over TCP with dnspython.

Works with any primary server that accepts signed updates: BIND9 (``allow-update { key … }``),
Knot, PowerDNS, Windows DNS, and most registrars' "dynamic DNS" endpoints. The TSIG secret is
registered for redaction when the provider is made and is never logged, put in an error or
returned.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

from minds371.errors import ConfigurationError, ProviderError
from minds371.logging import get_logger, register_secret
from minds371_deploy.domains._provider import DnsRecord

__all__ = ["ALGORITHMS", "Rfc2136Provider", "Rfc2136Settings"]

_log = get_logger("minds371.deploy.dns")

#: TSIG algorithms accepted (RFC 8945 §6 recommends HMAC-SHA256; MD5 and SHA-1 are not offered).
ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224")
_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Rfc2136Settings:
    """Where and how to send updates.

    Attributes:
        server: The primary server's address (IP).
        port: Its DNS port (53).
        zone: The zone the records go in (``example.com``).
        key_name: The TSIG key's name, as the server knows it.
        key_secret: The key's base64 secret (a secret: never shown).
        algorithm: One of :data:`ALGORITHMS`.
    """

    server: str
    zone: str
    key_name: str
    key_secret: str = field(repr=False)
    port: int = 53
    algorithm: str = "hmac-sha256"


class Rfc2136Provider:
    """A :class:`~minds371_deploy.domains.DnsProvider` speaking RFC 2136 to one server.

    Raises:
        ConfigurationError: at construction, a secret that is not base64, an unknown algorithm.
    """

    kind = "rfc2136"
    #: A plain DNS server serves records, never TLS.
    terminates_tls = False

    def __init__(self, settings: Rfc2136Settings, *, timeout: float = _TIMEOUT) -> None:
        register_secret(settings.key_secret)
        if settings.algorithm not in ALGORITHMS:
            raise ConfigurationError(
                f"TSIG algorithm {settings.algorithm!r} is not supported: use one of "
                + ", ".join(ALGORITHMS),
                details={"field": "MINDS371_DNS_TSIG_ALGORITHM"},
            )
        try:
            secret = base64.b64decode(settings.key_secret, validate=True)
        except (binascii.Error, ValueError):
            secret = b""
        if not secret:
            raise ConfigurationError(
                "the TSIG secret is not base64 (as tsig-keygen prints it)",
                details={"field": "MINDS371_DNS_TSIG_SECRET"},
            )
        self.settings = settings
        self.zone = dns.name.from_text(settings.zone)
        self._key_name = dns.name.from_text(settings.key_name)
        self._keyring = {self._key_name: dns.tsig.Key(self._key_name, secret, settings.algorithm)}
        self._timeout = timeout

    def _relative(self, name: str) -> dns.name.Name:
        absolute = dns.name.from_text(name)
        if not absolute.is_subdomain(self.zone) or absolute == self.zone:
            raise ConfigurationError(
                f"{name} is not a name inside the DNS zone {self.settings.zone} that "
                "MINDS371_DNS_ZONE names: use a domain under it, or configure its zone",
                details={"field": "/domain", "zone": self.settings.zone},
            )
        return absolute.relativize(self.zone)

    def _message(self) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(
            self.zone,
            keyring=self._keyring,
            keyname=self._key_name,
            keyalgorithm=self.settings.algorithm,
        )

    async def check(self, name: str) -> None:
        """Send a signed update that changes nothing (only a prerequisite: the zone's SOA).

        The server checks the signature, and whether the key may update the zone, before the
        prerequisite: a wrong key or a zone it does not serve is refused here, before a
        deployment is paid for.
        """
        self._relative(name)
        update = self._message()
        update.present(dns.name.empty, "SOA")
        await self._send(update, f"check {name}")

    async def upsert(self, record: DnsRecord) -> None:
        """Replace every A and CNAME record at the name by ``record``, in one atomic update."""
        relative = self._relative(record.name)
        update = self._message()
        update.delete(relative, "CNAME")
        update.delete(relative, "A")
        content = record.content if record.type == "A" else record.content.rstrip(".") + "."
        update.add(relative, record.ttl, record.type, content)
        await self._send(update, f"{record.type} {record.name} → {record.content}")
        _log.info("minds371.deploy.dns_set", name=record.name, type=record.type, to=record.content)

    async def delete(self, name: str) -> None:
        """Remove the A and CNAME records at ``name``."""
        relative = self._relative(name)
        update = self._message()
        update.delete(relative, "CNAME")
        update.delete(relative, "A")
        await self._send(update, f"delete {name}")
        _log.info("minds371.deploy.dns_removed", name=name)

    async def _send(self, update: dns.update.UpdateMessage, what: str) -> None:
        where = f"{self.settings.server}:{self.settings.port}"
        key = self.settings.key_name
        try:
            response = await dns.asyncquery.tcp(
                update, self.settings.server, port=self.settings.port, timeout=self._timeout
            )
        except dns.tsig.PeerError as exc:
            # The server answered that our signature does not verify (BADSIG), it does not
            # know the key (BADKEY) or the clocks differ (BADTIME).
            raise ConfigurationError(
                f"the DNS server {where} refused the TSIG key {key!r} "
                f"({_tsig_error(exc)}): check MINDS371_DNS_TSIG_KEY_NAME, "
                "MINDS371_DNS_TSIG_SECRET and MINDS371_DNS_TSIG_ALGORITHM",
                details={"field": "MINDS371_DNS_TSIG_SECRET", "server": where},
            ) from None
        except (dns.tsig.BadSignature, dns.message.UnknownTSIGKey, dns.tsig.BadTime) as exc:
            raise ProviderError(
                f"the DNS server {where}'s answer to {what} is not signed by key {key!r}: "
                f"{type(exc).__name__}",
                details={"server": where},
            ) from None
        except (dns.exception.Timeout, TimeoutError) as exc:
            raise ProviderError(
                f"the DNS server {where} did not answer ({what}) in {self._timeout:g} s",
                retryable=True,
                details={"server": where},
            ) from exc
        except (OSError, EOFError, dns.exception.DNSException) as exc:
            raise ProviderError(
                f"could not send the DNS update ({what}) to {where}: {type(exc).__name__}: {exc}",
                retryable=True,
                details={"server": where},
            ) from None
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        text = dns.rcode.to_text(rcode)
        if rcode in (dns.rcode.NOTAUTH, dns.rcode.REFUSED, dns.rcode.NOTZONE):
            raise ConfigurationError(
                f"the DNS server {where} refused the update ({what}): {text}; the TSIG key "
                f"{key!r} must be allowed to update zone {self.settings.zone} "
                "(BIND: allow-update { key …; }) on its primary server",
                details={"field": "MINDS371_DNS_ZONE", "server": where, "rcode": text},
            )
        raise ProviderError(
            f"the DNS server {where} failed the update ({what}): {text}",
            retryable=rcode == dns.rcode.SERVFAIL,
            details={"server": where, "rcode": text},
        )


def _tsig_error(exc: Exception) -> str:
    names: dict[type[Exception], str] = {
        dns.tsig.PeerBadKey: "BADKEY: it does not know this key",
        dns.tsig.PeerBadSignature: "BADSIG: the secret or algorithm differs",
        dns.tsig.PeerBadTime: "BADTIME: the clocks differ by more than 5 minutes",
        dns.tsig.PeerBadTruncation: "BADTRUNC",
    }
    return names.get(type(exc), type(exc).__name__)
