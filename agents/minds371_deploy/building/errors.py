"""The build step's errors: the source does not build, or the image registry failed."""

from __future__ import annotations

from minds371.errors import ConfigurationError, ProviderError

__all__ = ["BuildError", "ImageRegistryError"]


class BuildError(ConfigurationError):
    """The repository could not be cloned or built as the request describes.

    A repository that does not exist, a branch it does not have, a build command that fails or
    hangs, a Dockerfile that does not build: the request's doing, so retrying will not help.
    Nothing was deployed or spent.
    """


class ImageRegistryError(ProviderError):
    """The container registry refused or failed a request (``retryable`` when it may pass)."""
