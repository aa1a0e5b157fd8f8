"""An in-process HTTP and WebSocket transport into an ASGI app, safe to close while cancelled.

httpx-ws's ``ASGIWebSocketTransport`` reaches an ASGI app's WebSocket routes without a socket
(``httpx.ASGITransport`` has none). Its exit is unsafe in two ways this subclass removes:

* It hands the caller's exception to an exit stack that holds one ``aclose`` per WebSocket ever
  opened (entered from other tasks). When the client is left because its task was cancelled,
  those callbacks re-raise the same ``CancelledError`` through nested exit stacks, which leaves
  it with itself as its own ``__context__``. CPython 3.11's ``AsyncExitStack`` then loops
  forever in ``_fix_exception_context`` at 100 % CPU: a failed deployment (whose diagnosis reads
  the lease's events over a WebSocket) never let the command exit.
* Every cleanup step awaits, so under cancellation none of them runs to the end.

Here the transport closes like a resource, not like a frame unwinding: shielded from the
caller's cancellation, with no exception passed in, and bounded by ``close_grace`` seconds after
which whatever the app still runs is cancelled.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import anyio
from httpx_ws.transport import ASGIWebSocketTransport

__all__ = ["InProcessTransport"]


class InProcessTransport(ASGIWebSocketTransport):
    """``ASGIWebSocketTransport`` whose exit never depends on how the caller is leaving."""

    def __init__(self, *args: Any, close_grace: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_grace = close_grace
        self._closing: anyio.CancelScope | None = None

    async def __aenter__(self) -> InProcessTransport:
        # A scope of our own around the app's task group: cancel scopes must be left in the
        # order they were entered, so the shield for closing has to exist before the group does.
        closing = anyio.CancelScope()
        closing.__enter__()
        try:
            await super().__aenter__()
        except BaseException as exc:
            if not closing.__exit__(type(exc), exc, exc.__traceback__):
                raise
            raise RuntimeError("the in-process transport did not open") from exc
        self._closing = closing
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> None:
        # The caller's exception stays the caller's: it is neither passed to the app's sessions
        # nor chained onto their cleanup. Open WebSocket sessions are told to disconnect, and the
        # app's tasks get ``close_grace`` seconds to end before they are cancelled.
        closing, self._closing = self._closing, None
        if closing is None:
            return
        closing.shield = True
        closing.deadline = anyio.current_time() + self.close_grace
        try:
            await super().__aexit__(None, None, None)
        except BaseException as exc:
            if not closing.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            closing.__exit__(None, None, None)
