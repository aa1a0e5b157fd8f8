"""Image references follow the distribution/reference grammar: what parses, what not, and why."""

from __future__ import annotations

import pytest

from minds371_akash.sdl._image import image_reference_problem, registry_name_problem

DIGEST = "sha256:" + "0123456789abcdef" * 4

VALID = [
    "nginx",
    "nginx:1.27",
    "nginx:Latest",
    "nginx:_underscore",
    "library/nginx:latest",
    "docker.io/library/nginx",
    "ghcr.io/org/app:v1.2.3",
    "localhost/app",
    "localhost:5000/app",
    "127.0.0.1:5000/a/b:c",
    "[::1]:5000/app",
    "[2001:db8::1]/team/app",
    "Registry.Example.COM/app",  # the registry may be in upper case, the path may not
    f"registry.example.com/team/app@{DIGEST}",
    f"app:tag@{DIGEST}",
    "app@sha512:" + "a" * 128,
    "quay.io/a__b/c--d",
    "my.registry/a.b/c_d",
    "a" * 63,
    "x/" * 100 + "y",
    "nginx:" + "t" * 128,
]


@pytest.mark.parametrize("image", VALID)
def test_references_the_kubelet_parses_are_accepted(image: str) -> None:
    assert image_reference_problem(image) is None


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("NGINX", "must be lowercase"),
        ("ghcr.io/Org/app", "must be lowercase"),
        ("nginx:", "tag after ':' is empty"),
        ("nginx:-x", "tag '-x' is invalid"),
        ("nginx:" + "t" * 129, "is invalid"),
        ("nginx:ünï", "contains 'ü'"),
        ("$(id)", "contains '$'"),
        ("nginx\n", "contains '\\n'"),
        ('"nginx"', "contains '\"'"),
        ("nginx latest", "contains ' '"),
        ("a" * 64, "image id"),
        ("nginx@sha256:abc", "digest"),
        ("nginx@sha256:" + "A" * 64, "lowercase hexadecimal"),
        ("nginx@md5:" + "a" * 32, "not supported"),
        ("a//b", "repository name"),
        ("a___b", "repository name"),
        ("registry.example.com:port/a", "registry"),
        ("x/" * 130 + "y", "longer than 255"),
        ("", "empty"),
        (" nginx", "spaces"),
    ],
)
def test_references_that_do_not_parse_are_refused_with_the_reason(image: str, reason: str) -> None:
    problem = image_reference_problem(image)
    assert problem is not None and reason in problem


def test_a_push_location_is_a_name_without_tag() -> None:
    assert registry_name_problem("ghcr.io/me") is None
    assert registry_name_problem("registry.example.com:5000/team") is None
    assert registry_name_problem("ghcr.io/Me") is not None
    assert registry_name_problem("ghcr.io/me:tag") is not None
