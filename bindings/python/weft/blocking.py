"""Blocking layer for scripts: no event loop, just bounded waits.

A :class:`Context` here is a QUEUED weft context: callbacks run only while
one of the ``wait_*`` / ``recv`` / :meth:`Context.run_until` calls pumps it
(``weft_context_wait`` + ``weft_context_dispatch``), on the calling thread.
Every wait takes a timeout in seconds and raises WeftTimeoutError when it
expires.

Example::

    ctx = weft.blocking.Context()
    pc = weft.blocking.PeerConnection(ctx, weft.Configuration(enable_loopback=True))
    dc = pc.create_data_channel("chat")
    pc.set_local_description()
    offer = pc.wait_gathering_complete()
    ...
    dc.wait_open()
    dc.send("hi")
    print(dc.recv(timeout=5))
"""

from __future__ import annotations

import time
from typing import Any, Callable, Deque, Optional

from . import _core, _wait
from ._core import Configuration, ContextMode, Frame, Message, SessionDescription
from ._errors import WeftTimeoutError

__all__ = ["Context", "PeerConnection", "DataChannel", "Track"]


class Context(_core.Context):
    """A QUEUED context pumped by the calling thread."""

    def __init__(self, *, thread_name: Optional[str] = None) -> None:
        super().__init__(ContextMode.QUEUED, thread_name=thread_name)

    def run_until(self, cond: Callable[[], bool], timeout: float, what: str = "condition") -> None:
        """Dispatches events until ``cond()`` is true; WeftTimeoutError after
        ``timeout`` seconds. Exceptions raised by callbacks propagate."""
        deadline = time.monotonic() + timeout
        self.dispatch()
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise WeftTimeoutError(-13, f"timed out after {timeout} s waiting for {what}")
            if self.wait(min(left, 0.5)):
                self.dispatch()

    def run_for(self, seconds: float) -> None:
        """Dispatches events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.wait(left):
                self.dispatch()


class DataChannel(_core.DataChannel):
    """A :class:`weft.DataChannel` with blocking open, close and receive."""

    _context: Context

    def wait_open(self, timeout: float = 30.0) -> None:
        self._context.run_until(_wait.dc_open(self), timeout, f"channel {self.label!r} open")

    def wait_closed(self, timeout: float = 30.0) -> None:
        self._context.run_until(_wait.dc_closed(self), timeout, f"channel {self.label!r} closed")

    def recv(self, timeout: float = 30.0) -> Message:
        """The next message (only for channels without ``on_message``)."""
        self._context.run_until(_wait.dc_message(self), timeout, f"a message on {self.label!r}")
        return self._inbox.popleft()


class Track(_core.Track):
    """A :class:`weft.Track` with blocking frame receive."""

    _context: Context
    _keeps_frames = True  # see _core.Track._keeps_frames

    def recv_frame(self, timeout: float = 30.0) -> Frame:
        """The next frame (frames arriving while no ``on_frame`` handler is
        set are kept from the track's creation; see
        weft.aio.Track.recv_frame)."""
        self._context.run_until(_wait.track_frame(self), timeout, f"a frame on mid {self.mid}")
        return self._frames.popleft()

    def wait_keyframe_request(self, count: int = 1, timeout: float = 30.0) -> None:
        """Waits until ``count`` keyframe requests in total were delivered."""
        self._context.run_until(_wait.keyframe_requests(self, count), timeout,
                                f"a keyframe request on mid {self.mid}")


class PeerConnection(_core.PeerConnection):
    """A :class:`weft.PeerConnection` on a blocking :class:`Context`."""

    _dc_class = DataChannel
    _track_class = Track
    _context: Context

    def __init__(self, context: Context, configuration: Optional[Configuration] = None) -> None:
        if not isinstance(context, Context):
            raise TypeError("weft.blocking.PeerConnection needs a weft.blocking.Context")
        super().__init__(context, configuration)

    def wait_gathering_complete(self, timeout: float = 30.0) -> SessionDescription:
        """Waits for gathering to complete; returns the full local description."""
        self._context.run_until(_wait.gathering_complete(self), timeout, "gathering complete")
        desc = self.local_description
        assert desc is not None
        return desc

    def wait_connected(self, timeout: float = 30.0) -> None:
        self._context.run_until(_wait.connected(self), timeout, "connected")

    def wait_closed(self, timeout: float = 30.0) -> None:
        """Waits until the pc is closed (locally or by the remote)."""
        self._context.run_until(_wait.pc_closed(self), timeout, "peer connection closed")

    def next_data_channel(self, timeout: float = 30.0) -> DataChannel:
        """The next channel the remote opened (those that arrived while an
        ``on_data_channel`` handler was set went to the handler instead)."""
        return self._next(self._incoming, timeout, "a remote data channel")

    def next_track(self, timeout: float = 30.0) -> Track:
        """The next track the remote added (those that arrived while an
        ``on_track`` handler was set went to the handler instead)."""
        return self._next(self._incoming_tracks, timeout, "a remote track")

    def _next(self, queue: Deque[Any], timeout: float, what: str) -> Any:
        self._context.run_until(_wait.has_incoming(self, queue), timeout, what)
        return queue.popleft()
