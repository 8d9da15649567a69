"""asyncio layer: weft on a QUEUED context watched by the event loop.

The context's fd is registered with ``loop.add_reader``; when it becomes
readable the loop runs ``weft_context_dispatch``, so every callback runs on
the event-loop thread, between other asyncio callbacks (no locks needed).
Callbacks may be plain functions or ``async def`` coroutine functions (the
coroutine is scheduled as a task). An exception raised by a callback goes to
the loop's exception handler.

Example::

    ctx = weft.aio.Context()          # inside a running loop
    pc = weft.aio.PeerConnection(ctx, weft.Configuration(enable_loopback=True))
    dc = pc.create_data_channel("chat")
    await pc.set_local_description(await pc.create_offer())
    await pc.wait_gathering_complete()
    ... signal pc.local_description, apply the answer ...
    await dc.wait_open()
    dc.send("hi")
    reply = await dc.recv()
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable, Deque, List, Optional, Set, Tuple, Union

from . import _core, _wait
from ._core import (
    Configuration,
    ContextMode,
    Frame,
    IceCandidate,
    Message,
    SessionDescription,
)
from ._errors import WeftTimeoutError

__all__ = ["Context", "PeerConnection", "DataChannel", "Track", "get_context"]


def _on_readable(ref: "weakref.ref[Context]") -> None:
    ctx = ref()
    if ctx is not None:
        ctx._run_pending()


def _remove_reader(loop_ref: "weakref.ref[asyncio.AbstractEventLoop]", fd: int) -> None:
    loop = loop_ref()
    if loop is not None and not loop.is_closed():
        loop.remove_reader(fd)


class Context(_core.Context):
    """A QUEUED weft context whose events are dispatched by an asyncio loop.

    Create it from inside the loop (``loop`` defaults to the running one).
    """

    def __init__(
        self,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        *,
        thread_name: Optional[str] = None,
    ) -> None:
        super().__init__(ContextMode.QUEUED, thread_name=thread_name)
        loop_ = loop if loop is not None else asyncio.get_running_loop()
        # Weak: the per-loop default context (get_context) must not keep its
        # loop alive, or neither would ever be collected.
        self._loop_ref = weakref.ref(loop_)
        self._waiters: List[Tuple[Callable[[], bool], "asyncio.Future[None]"]] = []
        self._tasks: Set["asyncio.Task[Any]"] = set()
        fd = self.fd
        # The loop holds only a weak reference: an abandoned context can still
        # be collected (its finalizer removes the reader before the unref).
        loop_.add_reader(fd, _on_readable, weakref.ref(self))
        loop_ref = self._loop_ref
        self._cleanups.append(lambda: _remove_reader(loop_ref, fd))

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("the event loop of this weft.aio.Context is gone")
        return loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that dispatches this context's callbacks."""
        return self._loop

    def _run_pending(self) -> None:
        if self._handle is None:
            return
        try:
            self.dispatch()
        except Exception as e:  # noqa: BLE001 - dispatch itself failing
            self._loop.call_exception_handler(
                {"message": "weft_context_dispatch failed", "exception": e}
            )
        self._check_waiters()

    def _check_waiters(self) -> None:
        for cond, fut in list(self._waiters):
            if fut.done():
                continue
            try:
                if cond():
                    fut.set_result(None)
            except Exception as e:  # noqa: BLE001 - the condition can't come true
                fut.set_exception(e)

    def _callback_failed(self, exc: BaseException) -> None:
        self._loop.call_exception_handler(
            {"message": "exception in a weft callback", "exception": exc}
        )

    def _handle_result(self, result: Any) -> None:
        if asyncio.iscoroutine(result):
            task = self._loop.create_task(result)
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._callback_failed(task.exception())  # type: ignore[arg-type]

    async def wait_for(
        self, cond: Callable[[], bool], timeout: Optional[float], what: str
    ) -> None:
        """Waits until ``cond()`` is true (re-checked after every dispatch).
        Raises WeftTimeoutError after ``timeout`` seconds, or what ``cond``
        raises."""
        if cond():
            return
        fut: "asyncio.Future[None]" = self._loop.create_future()
        entry = (cond, fut)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise WeftTimeoutError(-13, f"timed out after {timeout} s waiting for {what}") from None
        finally:
            self._waiters.remove(entry)

    def close(self) -> None:
        for _, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        super().close()


_contexts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Context]" = (
    weakref.WeakKeyDictionary()
)


def get_context() -> Context:
    """The default :class:`Context` of the running event loop (created on
    first use, one per loop)."""
    loop = asyncio.get_running_loop()
    ctx = _contexts.get(loop)
    if ctx is None or ctx._handle is None:
        ctx = Context(loop)
        _contexts[loop] = ctx
    return ctx


class DataChannel(_core.DataChannel):
    """A :class:`weft.DataChannel` with awaitable open, close and receive."""

    _context: Context

    async def wait_open(self, timeout: Optional[float] = 30.0) -> None:
        """Returns once the channel is open; raises ClosedError if it closes
        first, WeftTimeoutError after ``timeout`` seconds."""
        await self._context.wait_for(_wait.dc_open(self), timeout, f"channel {self.label!r} open")

    async def wait_closed(self, timeout: Optional[float] = 30.0) -> None:
        """Returns once the channel is closed."""
        await self._context.wait_for(
            _wait.dc_closed(self), timeout, f"channel {self.label!r} closed"
        )

    async def recv(self, timeout: Optional[float] = 30.0) -> Message:
        """The next message (``str`` or ``bytes``). Only for channels without
        an ``on_message`` handler. Raises ClosedError once the channel is
        closed and drained."""
        await self._context.wait_for(
            _wait.dc_message(self), timeout, f"a message on {self.label!r}"
        )
        return self._inbox.popleft()


class Track(_core.Track):
    """A :class:`weft.Track` with awaitable frames and keyframe requests."""

    _context: Context
    _keeps_frames = True  # see _core.Track._keeps_frames

    async def recv_frame(self, timeout: Optional[float] = 30.0) -> Frame:
        """The next frame received. Frames that arrive while no ``on_frame``
        handler is set are kept for it from the track's creation (at most
        1024: the oldest are dropped). Assigning ``on_frame = None`` stops
        that (weft then skips reassembly) until the next call. Raises
        ClosedError once the track is stopped or its pc closed."""
        await self._context.wait_for(_wait.track_frame(self), timeout, f"a frame on mid {self.mid}")
        return self._frames.popleft()

    async def wait_keyframe_request(self, count: int = 1, timeout: Optional[float] = 30.0) -> None:
        """Waits until ``count`` keyframe requests (PLI/FIR) in total have been
        delivered on this track since the first call of this method (or since
        ``on_keyframe_request`` was set)."""
        await self._context.wait_for(
            _wait.keyframe_requests(self, count), timeout, f"a keyframe request on mid {self.mid}"
        )


class PeerConnection(_core.PeerConnection):
    """A :class:`weft.PeerConnection` whose negotiation steps are awaitable.

    ``context`` defaults to :func:`get_context` (the running loop's).
    """

    _dc_class = DataChannel
    _track_class = Track
    _context: Context

    def __init__(
        self,
        context: Optional[Context] = None,
        configuration: Optional[Configuration] = None,
    ) -> None:
        if context is None:
            context = get_context()
        if not isinstance(context, Context):
            raise TypeError("weft.aio.PeerConnection needs a weft.aio.Context")
        super().__init__(context, configuration)

    # The C calls return as soon as the engine thread applied the step (a
    # round trip of well under a millisecond), so they run inline.
    async def create_offer(self, *, ice_restart: bool = False) -> SessionDescription:  # type: ignore[override]
        return super().create_offer(ice_restart=ice_restart)

    async def create_answer(self) -> SessionDescription:  # type: ignore[override]
        return super().create_answer()

    async def set_local_description(  # type: ignore[override]
        self, description: Optional[SessionDescription] = None
    ) -> None:
        super().set_local_description(description)

    async def set_remote_description(  # type: ignore[override]
        self, description: SessionDescription
    ) -> None:
        super().set_remote_description(description)

    async def add_ice_candidate(  # type: ignore[override]
        self, candidate: Union[IceCandidate, str, None]
    ) -> None:
        super().add_ice_candidate(candidate)

    async def wait_gathering_complete(self, timeout: Optional[float] = 30.0) -> SessionDescription:
        """Waits for ICE gathering to complete and returns the local
        description, which then holds every candidate (non-trickle)."""
        await self._context.wait_for(_wait.gathering_complete(self), timeout, "gathering complete")
        desc = self.local_description
        assert desc is not None
        return desc

    async def wait_connected(self, timeout: Optional[float] = 30.0) -> None:
        """Waits for connection state "connected" (raises on failed/closed)."""
        await self._context.wait_for(_wait.connected(self), timeout, "connected")

    async def wait_closed(self, timeout: Optional[float] = 30.0) -> None:
        """Waits until the pc is closed (locally, or by the remote ending the
        session: its last callback, connection state "closed", has run)."""
        await self._context.wait_for(_wait.pc_closed(self), timeout, "peer connection closed")

    async def next_data_channel(self, timeout: Optional[float] = 30.0) -> DataChannel:
        """The next channel the remote opened (in order, each returned once).
        Channels that arrived while an ``on_data_channel`` handler was set went
        to the handler instead."""
        return await self._next(self._incoming, timeout, "a remote data channel")

    async def next_track(self, timeout: Optional[float] = 30.0) -> Track:
        """The next track the remote added (in order, each returned once).
        Tracks that arrived while an ``on_track`` handler was set went to the
        handler instead."""
        return await self._next(self._incoming_tracks, timeout, "a remote track")

    async def _next(self, queue: Deque[Any], timeout: Optional[float], what: str) -> Any:
        await self._context.wait_for(_wait.has_incoming(self, queue), timeout, what)
        return queue.popleft()
