"""Secrets a request carries where the runtime's payload scan cannot see them are registered."""

from __future__ import annotations

from minds371.logging import scrub
from minds371_deploy.request import DeploymentRequest
from tests.deploy.conftest import ROOT

PASSWORD = "sdl-registry-pass-4b2e"
SDL = (ROOT / "tests" / "fixtures" / "market" / "console_differs.yaml").read_text()


def private_sdl() -> str:
    """An SDL whose first service pulls from a private registry with a login."""
    head, _, rest = SDL.partition("services:\n")
    name_line, _, body = rest.partition("\n")
    login = (
        "    credentials:\n"
        "      host: ghcr.io\n"
        "      username: deployer\n"
        f'      password: "{PASSWORD}"\n'
    )
    return f"{head}services:\n{name_line}\n{login}{body}"


def test_a_registry_password_inside_an_sdl_text_is_scrubbed_once_the_request_is_read() -> None:
    text = f"the manifest said password {PASSWORD} to the provider"
    assert PASSWORD in scrub(text)  # unknown before
    request = DeploymentRequest.model_validate({"name": "private", "sdl": private_sdl()})
    assert request.sdl is not None and PASSWORD in request.sdl  # the request keeps its own copy
    assert PASSWORD not in scrub(text)
