"""Lifecycle shared by every backend, store and client: ``async with`` closes with ``aclose()``."""

from __future__ import annotations

from typing import Self

__all__ = ["AsyncResource"]


class AsyncResource:
    """A resource released by ``aclose()``; ``async with`` returns it and closes it on exit.

    Subclasses implement :meth:`aclose` (closing only what they created).
    """

    async def aclose(self) -> None:
        """Release what this object holds."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
