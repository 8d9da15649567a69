"""Conditions shared by the asyncio and blocking layers.

They look at the states reported by delivered events, not at the C getters
(which run ahead of the queued callbacks), so that when a wait returns the
matching handlers have already run.

Each returns True when satisfied, False to keep waiting, or raises when the
condition can no longer become true (so a waiter never hangs until its
timeout on a channel that already closed).
"""

from __future__ import annotations

from typing import Callable

from ._core import DataChannel, DataChannelState, IceGatheringState, PeerConnection, Track
from ._core import PeerConnectionState
from ._errors import ClosedError, OperationError


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
    def cond() -> bool:
        return pc.closed or pc._seen_connection_state == PeerConnectionState.CLOSED

    return cond


def has_incoming(pc: PeerConnection) -> Callable[[], bool]:
    def cond() -> bool:
        if pc.closed:
            raise ClosedError(-11, "peer connection closed")
        return bool(pc._incoming)

    return cond


def dc_open(dc: DataChannel) -> Callable[[], bool]:
    def cond() -> bool:
        s = dc._seen_state
        if s in (DataChannelState.CLOSING, DataChannelState.CLOSED) or dc._closed:
            raise ClosedError(-11, f"data channel {dc.label!r} closed before it opened")
        return s == DataChannelState.OPEN

    return cond


def dc_closed(dc: DataChannel) -> Callable[[], bool]:
    def cond() -> bool:
        return dc._closed or dc._seen_state == DataChannelState.CLOSED

    return cond


def dc_message(dc: DataChannel) -> Callable[[], bool]:
    def cond() -> bool:
        if dc._inbox:
            return True
        if dc._closed or dc._seen_state == DataChannelState.CLOSED:
            raise ClosedError(-11, f"data channel {dc.label!r} closed")
        return False

    return cond


def has_incoming_track(pc: PeerConnection) -> Callable[[], bool]:
    def cond() -> bool:
        if pc.closed:
            raise ClosedError(-11, "peer connection closed")
        return bool(pc._incoming_tracks)

    return cond


def track_frame(track: Track) -> Callable[[], bool]:
    def cond() -> bool:
        if track._frames:
            return True
        if track._closed:
            raise ClosedError(-11, "track stopped or its peer connection closed")
        return False

    return cond


def keyframe_requests(track: Track, n: int) -> Callable[[], bool]:
    def cond() -> bool:
        if track._keyframe_requests >= n:
            return True
        if track._closed:
            raise ClosedError(-11, "track stopped or its peer connection closed")
        return False

    return cond
