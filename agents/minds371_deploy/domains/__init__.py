"""Domains: a DNS record that points a request's ``domain`` at its deployment, and TLS for it.

Why here, under the deployment agent, and not as a fourth plugin: DESIGN.md fixes the
distribution's import packages, and names DNS as a step of the DeploymentAgent
(``configure_dns_and_ssl``), composed per task like its market and registry providers. The DNS
providers depend only on the core (errors, logging) and their own clients (dnspython, httpx),
never on Akash, so the one-way layering core ← plugins ← agents holds; the agent, its watcher and
its close paths are the only users.

Modules: :mod:`._provider` (the :class:`DnsProvider` protocol and :class:`DnsRecord`),
:mod:`.rfc2136` (dynamic update signed with TSIG), :mod:`.cloudflare` (Cloudflare's DNS API),
:mod:`._settings` (which provider, from the environment), :mod:`.records` (the record's saga
steps: point, follow a failover, move on replacement, remove on close) and :mod:`.tls` (what
``ssl: true`` can mean on Akash, and the TLS sidecar).
"""

from __future__ import annotations

from minds371_deploy.domains._provider import DnsProvider, DnsRecord, RecordType
from minds371_deploy.domains._settings import dns_provider_from_env

__all__ = ["DnsProvider", "DnsRecord", "RecordType", "dns_provider_from_env"]
