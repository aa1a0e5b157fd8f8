"""Asking an OCI registry for a manifest's digest (the distribution API, over httpx).

``HEAD /v2/<repository>/manifests/<tag>`` answers 200 with the manifest's digest in
``Docker-Content-Digest``, or 404 when the registry does not have the tag (OCI distribution
spec, "Checking if content exists in the registry"; distribution/distribution
``registry/handlers/manifests.go``). A registry that wants a login answers 401 with a
``WWW-Authenticate`` challenge: ``Basic``, or ``Bearer realm=…,service=…,scope=…`` whose token
endpoint hands out a token for the login (distribution ``docs/spec/auth/token.md``).

Plain HTTP is used only for a registry on a loopback host, as a development registry serves it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import httpx

from minds371_deploy.building.credentials import RegistryLogin
from minds371_deploy.building.errors import ImageRegistryError
from minds371_deploy.building.source import LOOPBACK_HOSTS

__all__ = ["ImageName", "manifest_digest"]

_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True, slots=True)
class ImageName:
    """Where a built image goes: ``<host>/<repository>``.

    Attributes:
        host: The registry host as written (``ghcr.io``, ``127.0.0.1:5000``; ``docker.io`` when
            the location names no host).
        repository: The path in the registry (``team/web``).
    """

    host: str
    repository: str

    @classmethod
    def at(cls, container_registry: str, name: str) -> ImageName:
        """The image ``name`` under ``container_registry`` (``ghcr.io/org/name``)."""
        first, _, rest = container_registry.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            return cls(first, f"{rest}/{name}")
        return cls("docker.io", f"{container_registry}/{name}")

    @property
    def loopback(self) -> bool:
        """Whether the registry runs on this machine (plain HTTP, no TLS verification)."""
        host = self.host.rsplit(":", 1)[0] if not self.host.startswith("[") else "[::1]"
        return host in LOOPBACK_HOSTS

    @property
    def base_url(self) -> str:
        """The registry API's base URL."""
        if self.host == "docker.io":
            return "https://registry-1.docker.io"
        return f"{'http' if self.loopback else 'https'}://{self.host}"

    def tagged(self, tag: str) -> str:
        """``host/repository:tag``."""
        return f"{self.host}/{self.repository}:{tag}"

    def by_digest(self, digest: str) -> str:
        """``host/repository@sha256:…``: the reference a provider pulls."""
        return f"{self.host}/{self.repository}@{digest}"


async def manifest_digest(
    image: ImageName, tag: str, login: RegistryLogin | None, *, time_limit: float = 30.0
) -> str | None:
    """The digest of ``image:tag`` in its registry, or ``None`` when the registry lacks it.

    Raises:
        ImageRegistryError: the registry is unreachable, refuses the login or answers oddly.
    """
    url = f"{image.base_url}/v2/{image.repository}/manifests/{tag}"
    headers = {"accept": _ACCEPT}
    try:
        async with httpx.AsyncClient(timeout=time_limit, follow_redirects=True) as client:
            response = await client.head(url, headers=headers)
            if response.status_code == 401:
                auth = await _authorization(client, response, image, login)
                response = await client.head(url, headers={**headers, **auth})
    except httpx.HTTPError as exc:
        raise ImageRegistryError(
            f"the image registry {image.host} did not answer: {type(exc).__name__}",
            retryable=True,
            details={"registry": image.host},
        ) from exc
    if response.status_code == 404:
        return None
    if response.status_code in (401, 403):
        raise ImageRegistryError(
            f"the image registry {image.host} refused the login for {image.repository} "
            f"(HTTP {response.status_code}): check its entry in the registry credentials",
            details={"registry": image.host, "status": response.status_code},
        )
    if response.status_code != 200:
        raise ImageRegistryError(
            f"the image registry {image.host} answered HTTP {response.status_code}",
            retryable=response.status_code >= 500,
            details={"registry": image.host, "status": response.status_code},
        )
    digest = str(response.headers.get("docker-content-digest", ""))
    if not _DIGEST.match(digest):
        raise ImageRegistryError(
            f"the image registry {image.host} gave no sha256 digest for {image.tagged(tag)}",
            details={"registry": image.host},
        )
    return digest


async def _authorization(
    client: httpx.AsyncClient,
    challenge: httpx.Response,
    image: ImageName,
    login: RegistryLogin | None,
) -> dict[str, str]:
    header = challenge.headers.get("www-authenticate", "")
    scheme, _, params_text = header.partition(" ")
    basic = None if login is None else httpx.BasicAuth(login.username, login.password)
    if scheme.lower() == "basic":
        if login is None:
            return {}
        encoded = base64.b64encode(f"{login.username}:{login.password}".encode()).decode()
        return {"authorization": f"Basic {encoded}"}
    if scheme.lower() != "bearer":
        return {}
    params = dict(_CHALLENGE_PARAM.findall(params_text))
    realm = params.pop("realm", "")
    # The login goes to the token endpoint only over TLS (or on this machine).
    if not (realm.startswith("https://") or (image.loopback and realm.startswith("http://"))):
        return {}
    params.setdefault("scope", f"repository:{image.repository}:pull")
    answer = await client.get(realm, params=params, auth=basic or httpx.USE_CLIENT_DEFAULT)
    if answer.status_code != 200:
        return {}
    body = answer.json()
    bearer = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
    return {"authorization": f"Bearer {bearer}"} if isinstance(bearer, str) and bearer else {}
