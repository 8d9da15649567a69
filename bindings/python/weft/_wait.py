"""Conditions shared by the asyncio and blocking layers.

They look at the states reported by delivered events, not at the C getters
(which run ahead of the queued callbacks), so that when a wait returns the
matching handlers have already run.

Each returns True when satisfied, False to keep waiting, or raises when the
condition can no longer become true (so a waiter never hangs until its
timeout on a channel that already closed). Those that need a C handler
installed to become true install it.
"""

from __future__ import annotations

from typing import Any, Callable, Deque

from ._core import DataChannel, DataChannelState, IceGatheringState, PeerConnection, Track
from ._core import PeerConnectionState
from ._errors import ClosedError, OperationError


_TRACK_CLOSED = "track stopped or its peer connection closed"


def _ready_unless_closed(ready: Callable[[], bool], closed: Callable[[], bool],
                         message: str) -> Callable[[], bool]:
    """True once ``ready()``; else raises ClosedError once ``closed()``
    (ready is asked first: what arrived before a close is still taken)."""

    def cond() -> bool:
        if ready():
            return True
        if closed():
            raise ClosedError(-11, message)
        return False

    return cond


def gathering_complete(pc: PeerConnection) -> Callable[[], bool]:
    def cond() -> bool:
        if pc.closed:
            raise ClosedError(-11, "peer connection closed while gathering")
        return pc._seen_gathering_state == IceGatheringState.COMPLETE

    return cond


def connected(pc: PeerConnection) -> Callable[[], bool]:
    def cond() -> bool:
        if pc.closed:
            raise ClosedError(-11, "peer connection closed")
        s = pc._seen_connection_state
        if s == PeerConnectionState.FAILED:
            raise OperationError(-6, "peer connection failed")
        if s == PeerConnectionState.CLOSED:
            raise ClosedError(-11, "peer connection closed")
        return s == PeerConnectionState.CONNECTED

    return cond


def pc_closed(pc: PeerConnection) -> Callable[[], bool]:
    return lambda: pc.closed or pc._seen_connection_state == PeerConnectionState.CLOSED


def dc_open(dc: DataChannel) -> Callable[[], bool]:
    def cond() -> bool:
        s = dc._seen_state
        if s in (DataChannelState.CLOSING, DataChannelState.CLOSED) or dc._closed:
            raise ClosedError(-11, f"data channel {dc.label!r} closed before it opened")
        return s == DataChannelState.OPEN

    return cond


def dc_closed(dc: DataChannel) -> Callable[[], bool]:
    return lambda: dc._closed or dc._seen_state == DataChannelState.CLOSED


def dc_message(dc: DataChannel) -> Callable[[], bool]:
    dc._install("on_message")
    return _ready_unless_closed(lambda: bool(dc._inbox), dc_closed(dc),
                                f"data channel {dc.label!r} closed")


def has_incoming(pc: PeerConnection, queue: Deque[Any]) -> Callable[[], bool]:
    """@queue: the pc's ``_incoming`` (data channels) or ``_incoming_tracks``."""
    return _ready_unless_closed(lambda: bool(queue), lambda: pc.closed, "peer connection closed")


def track_frame(track: Track) -> Callable[[], bool]:
    track._keep_installed("on_frame")
    return _ready_unless_closed(lambda: bool(track._frames), lambda: track._closed, _TRACK_CLOSED)


def keyframe_requests(track: Track, n: int) -> Callable[[], bool]:
    track._keep_installed("on_keyframe_request")
    return _ready_unless_closed(lambda: track._keyframe_requests >= n, lambda: track._closed,
                                _TRACK_CLOSED)
