"""Which auto top-up settings a funding sweep must look at, without asking every deployment.

A sweep (each time a setting is switched on, and Console's cron) funds the enabled deployments
whose escrow runs out within the look-ahead window. Asking every deployment for its runway on
every sweep is quadratic in an owner's deployments during a burst of creates; but the answer
moves predictably. While a deployment's leases stay the same, each block pays exactly one block
of the rate, so the runway shrinks by one block per block; a deposit only lengthens it, a lease
that closes only lowers the rate (or stops the payments), and only a new lease raises it. A
runway of ``left`` blocks seen at ``height`` with a window of ``window`` blocks therefore cannot
reach the window before ``height + left - window`` (less a small margin: the runway is a floor of
a Decimal quotient).

:class:`DrainHorizons` keeps that height for each setting whose deployment was seen outside the
window, and hands a sweep the rest, in the settings' own order: new settings, deployments whose
horizon has come, those that were draining or not paying, and those with a new lease
(:meth:`World.create_lease` calls :meth:`DrainHorizons.forget`). Settings of closed deployments
are dropped for good. A new settings table (a restored world) or another window starts over.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from decimal import Decimal

__all__ = ["DrainHorizons"]

#: Blocks of slack below a remembered horizon: the runway is a floor of a Decimal quotient, so
#: one block later it may read one less than the exact count says.
_MARGIN = 2

_Key = tuple[str, int]


class DrainHorizons:
    """The settings a sweep must look at (see the module docs)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything: the next sweep looks at every setting."""
        self._settings: object = None  # the settings table indexed (by identity)
        self._window: Decimal | None = None
        self._seen = 0  # how many of its rows are indexed (rows are never removed)
        self._position: dict[_Key, int] = {}
        self._pending: set[_Key] = set()
        self._until: dict[_Key, int] = {}
        self._heap: list[tuple[int, int, _Key]] = []

    def due(self, settings: Mapping[_Key, object], height: int, window: Decimal) -> list[_Key]:
        """The keys of ``settings`` a sweep at ``height`` must look at, in the table's order."""
        if settings is not self._settings or window != self._window or len(settings) < self._seen:
            self.clear()
            self._settings, self._window = settings, window
        if len(settings) > self._seen:
            for key in itertools.islice(settings, self._seen, None):
                self._position[key] = len(self._position)
                self._pending.add(key)
            self._seen = len(settings)
        heap = self._heap
        while heap and heap[0][0] <= height:
            until, _, key = heapq.heappop(heap)
            if self._until.get(key) == until:
                del self._until[key]
                self._pending.add(key)
        return sorted(self._pending, key=self._position.__getitem__)

    def note(self, key: _Key, height: int, window: Decimal, left: int) -> None:
        """The deployment of ``key`` had ``left`` blocks of runway, beyond ``window``."""
        until = height + left - int(window) - _MARGIN
        if until > height and key in self._position:
            self._pending.discard(key)
            self._until[key] = until
            heapq.heappush(self._heap, (until, self._position[key], key))

    def done(self, key: _Key) -> None:
        """The deployment of ``key`` is closed: no sweep funds it again."""
        self._pending.discard(key)
        self._until.pop(key, None)

    def forget(self, key: _Key) -> None:
        """The deployment of ``key`` has a new lease: its runway must be looked at again."""
        if self._until.pop(key, None) is not None:
            self._pending.add(key)
