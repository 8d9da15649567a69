"""The object layer: Context, Configuration, PeerConnection, DataChannel, Track.

Design notes (read these before changing anything here):

* C callbacks go through a fixed set of module-level ctypes trampolines that
  live as long as the process, so no CFUNCTYPE object can ever be freed while
  C may still call it. Each wrapped C object gets an integer token as its
  weft user data; a trampoline maps the token back to the Python wrapper
  through a registry of weak references and calls the Python callable the
  user stored on the wrapper. A wrapper that has been collected or closed is
  simply not called.
* Python exceptions never propagate into C: a trampoline catches everything
  and hands the exception to the wrapper's Context (QUEUED: re-raised by the
  next ``dispatch()`` on the Python side; asyncio: the loop's exception
  handler; THREAD / GLib: logged on the ``weft`` logger).
* Releasing: every wrapper owns exactly one C reference, dropped exactly once
  by a ``weakref.finalize`` (on garbage collection, explicit close, or at
  interpreter exit) that holds only the raw handle, never the wrapper.
  Destruction order is free, as in C: a DataChannel whose PeerConnection was
  released first is a closed, inert channel (its calls raise ClosedError).
* Ownership between wrappers: a PeerConnection keeps its Context and all its
  DataChannel and Track wrappers alive (so their callbacks keep working while
  the user holds only the pc). A DataChannel or Track refers to its
  PeerConnection weakly and does NOT keep it alive: when the user drops the
  last reference to a pc it is closed and released, exactly like
  ``weft_pc_unref`` in C.
* A C object has at most one wrapper: its user data is the wrapper's token
  (a remote track starts with its pc's token; ``on_track`` re-uses a wrapper
  when the track already carries a Track token).
"""

from __future__ import annotations

import collections
import ctypes
import inspect
import itertools
import logging
import traceback
import weakref
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _lib
from ._errors import ClosedError, WeftError, check, last_error
from ._lib import cstr, lib, take_string

log = logging.getLogger("weft")

# ===== Enums (values mirror weft.h) =========================================


class _W3CEnum(IntEnum):
    """An IntEnum whose str() is the W3C spelling ("connected")."""

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.name.lower().replace("_", "-")


class ContextMode(IntEnum):
    """weft_context_mode."""

    THREAD = 0
    QUEUED = 1


class IceTransportPolicy(_W3CEnum):
    ALL = 0
    RELAY = 1


class CertificateType(_W3CEnum):
    ECDSA_P256 = 0
    RSA_2048 = 1


class PeerConnectionState(_W3CEnum):
    NEW = 0
    CONNECTING = 1
    CONNECTED = 2
    DISCONNECTED = 3
    FAILED = 4
    CLOSED = 5


class IceConnectionState(_W3CEnum):
    NEW = 0
    CHECKING = 1
    CONNECTED = 2
    COMPLETED = 3
    DISCONNECTED = 4
    FAILED = 5
    CLOSED = 6


class IceGatheringState(_W3CEnum):
    NEW = 0
    GATHERING = 1
    COMPLETE = 2


class SignalingState(_W3CEnum):
    STABLE = 0
    HAVE_LOCAL_OFFER = 1
    HAVE_REMOTE_OFFER = 2
    HAVE_LOCAL_PRANSWER = 3
    HAVE_REMOTE_PRANSWER = 4
    CLOSED = 5


class SdpType(_W3CEnum):
    UNSPEC = 0
    OFFER = 1
    PRANSWER = 2
    ANSWER = 3
    ROLLBACK = 4


class DescriptionKind(IntEnum):
    """weft_desc_which."""

    LOCAL = 0
    REMOTE = 1
    CURRENT_LOCAL = 2
    CURRENT_REMOTE = 3
    PENDING_LOCAL = 4
    PENDING_REMOTE = 5


class DataChannelState(_W3CEnum):
    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


class Priority(_W3CEnum):
    VERY_LOW = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class ErrorDetail(_W3CEnum):
    NONE = 0
    DATA_CHANNEL_FAILURE = 1
    DTLS_FAILURE = 2
    FINGERPRINT_FAILURE = 3
    SCTP_FAILURE = 4
    SDP_SYNTAX_ERROR = 5
    ICE_FAILURE = 6


class MediaKind(_W3CEnum):
    """weft_media_kind: "audio" or "video"."""

    AUDIO = 1
    VIDEO = 2


class Direction(_W3CEnum):
    """weft_direction (RTCRtpTransceiverDirection): "sendrecv" ... "stopped"."""

    SENDRECV = 0
    SENDONLY = 1
    RECVONLY = 2
    INACTIVE = 3
    STOPPED = 4


class Codec(IntEnum):
    """weft_codec; str() is the SDP encoding name ("opus", "VP8")."""

    NONE = 0
    OPUS = 1
    PCMU = 2
    PCMA = 3
    VP8 = 64
    H264 = 65

    def __str__(self) -> str:
        return cstr(lib.weft_codec_to_string(int(self)))


def _to_enum(enum: Any, value: Any, what: str) -> Any:
    """@value as a member of @enum: a member, an int, or its name/str()
    spelling in any case ("video", "sendonly", "vp8")."""
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        low = value.lower()
        for m in enum:
            if low in (m.name.lower(), str(m).lower()):
                return m
        raise ValueError(f"unknown {what} {value!r}")
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}") from None


class LogLevel(IntEnum):
    NONE = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    DEBUG = 4
    TRACE = 5


_MSG_TEXT = 1
_FRAME_KEY = 1  # WEFT_FRAME_KEY
_RTP_KEEP_SEQ = 1  # WEFT_RTP_KEEP_SEQ
_RTP_KEEP_TIMESTAMP = 2  # WEFT_RTP_KEEP_TIMESTAMP
_ERR_INVALID_STATE = -2

# ===== Plain data ===========================================================


@dataclass(frozen=True)
class SessionDescription:
    """RTCSessionDescriptionInit: ``type`` and ``sdp``."""

    type: SdpType
    sdp: str

    def __post_init__(self) -> None:
        if isinstance(self.type, str) and not isinstance(self.type, SdpType):
            t = SdpType(lib.weft_sdp_type_from_string(self.type.encode()))
            if t == SdpType.UNSPEC:
                raise ValueError(f"unknown SDP type {self.type!r}")
            object.__setattr__(self, "type", t)
        else:
            object.__setattr__(self, "type", SdpType(self.type))


@dataclass(frozen=True)
class IceCandidate:
    """RTCIceCandidateInit. ``candidate`` is "candidate:..." ("" = end of
    candidates)."""

    candidate: str
    sdp_mid: Optional[str] = None
    sdp_mline_index: Optional[int] = None
    username_fragment: Optional[str] = None


@dataclass(frozen=True)
class ErrorInfo:
    """An asynchronous failure (weft_error_info) passed to ``on_error``."""

    code: int
    name: str
    detail: ErrorDetail
    message: str
    sctp_cause: Optional[int] = None
    dtls_alert: Optional[int] = None

    def exception(self) -> WeftError:
        """The WeftError subclass this failure corresponds to."""
        from ._errors import error_for

        return error_for(self.code, self.message)


@dataclass
class IceServer:
    """An ICE server: one or more W3C URLs ("stun:host:port") and, for
    turn:, the credentials."""

    urls: Union[str, Sequence[str]]
    username: Optional[str] = None
    credential: Optional[str] = None


Message = Union[str, bytes]


@dataclass(frozen=True)
class Frame:
    """An encoded frame received on a :class:`Track` (``on_frame``): an
    Opus/G.711 packet, a VP8 frame or an H264 access unit (Annex-B)."""

    data: bytes
    rtp_timestamp: Optional[int]  # codec clock units
    pts_us: int  # microseconds since the first frame of the track
    keyframe: bool  # from the payload (video)
    codec: Codec


@dataclass(frozen=True)
class CodecParameters:
    """The negotiated send codec of a track (weft_codec_params)."""

    codec: Codec
    payload_type: int
    clock_rate: int
    channels: int


@dataclass(frozen=True)
class TrackStats:
    """Counters of one track (weft_track_stats); ``rtt_us`` None = unknown."""

    packets_sent: int
    bytes_sent: int
    frames_sent: int
    packets_received: int
    bytes_received: int
    frames_received: int
    frames_dropped: int
    packets_lost: int
    nacks_sent: int
    nacks_received: int
    retransmitted: int
    plis_sent: int
    plis_received: int
    srtp_failures: int
    rtt_us: Optional[int]
    rtx_dropped: int
    keyframe_requests_throttled: int
    events_dropped: int

# ===== Token registry and trampolines =======================================

_registry: Dict[int, "weakref.ref[Any]"] = {}
_next_token = itertools.count(1)
# Callbacks that reached a trampoline for an object already closed on the
# Python side (weft promises none after close; the test suite checks this).
stats: Dict[str, int] = {"late_callbacks": 0}


def _register(obj: Any) -> int:
    token = next(_next_token)
    _registry[token] = weakref.ref(obj)
    return token


def _lookup(ud: Optional[int]) -> Any:
    if not ud:
        return None
    ref = _registry.get(ud)
    obj = ref() if ref is not None else None
    if obj is None:
        return None
    if obj._closed:
        stats["late_callbacks"] += 1
        return None
    return obj


def _guard(fn: Callable[..., None]) -> Callable[..., None]:
    """Last line of defence: nothing escapes into C, not even a bug here."""

    def wrapper(*args: Any) -> None:
        try:
            fn(*args)
        except BaseException:  # noqa: BLE001 - must not unwind into C
            log.exception("weft: internal error in a callback trampoline")

    wrapper.__name__ = fn.__name__
    return wrapper


def _error_info(p: Any) -> ErrorInfo:
    e = p.contents
    return ErrorInfo(
        code=e.code,
        name=cstr(lib.weft_err_name(e.code)),
        detail=ErrorDetail(e.detail) if 0 <= e.detail <= 6 else ErrorDetail.NONE,
        message=cstr(e.message),
        sctp_cause=None if e.sctp_cause < 0 else e.sctp_cause,
        dtls_alert=None if e.dtls_alert < 0 else e.dtls_alert,
    )


@_lib.ICE_CANDIDATE_FN
@_guard
def _t_ice_candidate(pc: int, c: Any, ud: Optional[int]) -> None:
    obj = _lookup(ud)
    if obj is None:
        return
    cand = None
    if c:
        s = c.contents
        cand = IceCandidate(
            candidate=cstr(s.candidate),
            sdp_mid=s.sdp_mid.decode() if s.sdp_mid is not None else None,
            sdp_mline_index=None if s.sdp_mline_index < 0 else s.sdp_mline_index,
            username_fragment=(
                s.username_fragment.decode() if s.username_fragment is not None else None
            ),
        )
    obj._emit("on_ice_candidate", cand)


def _state_trampoline(name: str, enum: type) -> Any:
    @_lib.PC_STATE_FN
    @_guard
    def t(pc: int, state: int, ud: Optional[int]) -> None:
        obj = _lookup(ud)
        if obj is not None:
            obj._emit(name, enum(state))

    return t


_t_connection_state = _state_trampoline("on_connection_state_change", PeerConnectionState)
_t_ice_state = _state_trampoline("on_ice_connection_state_change", IceConnectionState)
_t_gathering_state = _state_trampoline("on_ice_gathering_state_change", IceGatheringState)
_t_signaling_state = _state_trampoline("on_signaling_state_change", SignalingState)


def _event_trampoline(fntype: Any, name: str) -> Any:
    """A trampoline for an event without arguments (PC_EVENT_FN,
    DC_EVENT_FN and TRACK_EVENT_FN are all ``void (*)(obj, user_data)``)."""

    @fntype
    @_guard
    def t(c_obj: int, ud: Optional[int]) -> None:
        obj = _lookup(ud)
        if obj is not None:
            obj._emit(name)

    return t


_t_negotiation_needed = _event_trampoline(_lib.PC_EVENT_FN, "on_negotiation_needed")


@_lib.PC_DATA_CHANNEL_FN
@_guard
def _t_data_channel(pc: int, dc: int, ud: Optional[int]) -> None:
    obj = _lookup(ud)
    if obj is None:
        return
    handle = lib.weft_dc_ref(dc)
    channel = obj._dc_class._adopt(handle, obj)
    if obj._handlers.get("on_data_channel") is None:
        obj._incoming.append(channel)  # for next_data_channel()
    obj._emit("on_data_channel", channel)


@_lib.ERROR_FN
@_guard
def _t_error(pc_or_dc: int, e: Any, ud: Optional[int]) -> None:
    obj = _lookup(ud)
    if obj is not None:
        obj._emit("on_error", _error_info(e))


_t_dc_open = _event_trampoline(_lib.DC_EVENT_FN, "on_open")
_t_dc_closing = _event_trampoline(_lib.DC_EVENT_FN, "on_closing")
_t_dc_close = _event_trampoline(_lib.DC_EVENT_FN, "on_close")
_t_dc_low = _event_trampoline(_lib.DC_EVENT_FN, "on_buffered_amount_low")


@_lib.DC_MESSAGE_FN
@_guard
def _t_dc_message(dc: int, mtype: int, data: Optional[int], size: int, ud: Optional[int]) -> None:
    obj = _lookup(ud)
    if obj is None:
        return
    payload = ctypes.string_at(data, size) if size else b""
    msg: Message = payload.decode("utf-8") if mtype == _MSG_TEXT else payload
    obj._deliver(msg)


def _adopt_track(pc_obj: Any, track: int) -> Any:
    """The wrapper of @track (borrowed) for @pc_obj: the existing one if the
    track already carries a Track token, else a new wrapper owning a new
    reference."""
    ud = lib.weft_track_get_user_data(track)
    ref = _registry.get(ud) if ud else None
    existing = ref() if ref is not None else None
    if isinstance(existing, Track):
        return existing
    return pc_obj._track_class._adopt(lib.weft_track_ref(track), pc_obj)


@_lib.PC_TRACK_FN
@_guard
def _t_track(pc: int, track: int, ud: Optional[int]) -> None:
    obj = _lookup(ud)
    if obj is None:
        return
    wrapper = _adopt_track(obj, track)
    if obj._handlers.get("on_track") is None:
        obj._incoming_tracks.append(wrapper)  # for next_track()
    obj._emit("on_track", wrapper)


def _packet_trampoline(name: str) -> Any:
    @_lib.TRACK_PACKET_FN
    @_guard
    def t(track: int, data: Optional[int], size: int, ud: Optional[int]) -> None:
        obj = _lookup(ud)
        if obj is not None:
            obj._emit(name, ctypes.string_at(data, size) if size else b"")

    return t


_t_track_rtp = _packet_trampoline("on_rtp")
_t_track_rtcp = _packet_trampoline("on_rtcp")


@_lib.TRACK_FRAME_FN
@_guard
def _t_track_frame(track: int, data: Optional[int], size: int, info: Any,
                   ud: Optional[int]) -> None:
    obj = _lookup(ud)
    if obj is None:
        return
    i = info.contents
    try:
        codec = Codec(i.codec)
    except ValueError:
        codec = Codec.NONE
    obj._deliver_frame(
        Frame(
            data=ctypes.string_at(data, size) if size else b"",
            rtp_timestamp=i.rtp_timestamp if i.has_rtp_timestamp else None,
            pts_us=i.pts_us,
            keyframe=bool(i.flags & _FRAME_KEY),
            codec=codec,
        )
    )


_t_track_keyframe = _event_trampoline(_lib.TRACK_EVENT_FN, "on_keyframe_request")


# ===== Logging ==============================================================

_log_callable: Optional[Callable[[LogLevel, str, str], None]] = None


@_lib.LOG_FN
def _t_log(level: int, component: Optional[bytes], message: Optional[bytes], ud: Any) -> None:
    fn = _log_callable
    if fn is None:
        return
    try:
        fn(LogLevel(level) if 0 <= level <= 5 else LogLevel.ERROR, cstr(component), cstr(message))
    except BaseException:  # noqa: BLE001 - must not unwind into C
        pass


def set_log_handler(fn: Optional[Callable[[LogLevel, str, str], None]]) -> None:
    """Routes libweft's log to ``fn(level, component, message)`` (None restores
    stderr). ``fn`` may be called from any library thread and must not call
    weft functions."""
    global _log_callable
    _log_callable = fn
    lib.weft_set_log_handler(_t_log if fn is not None else _lib.LOG_FN(), None)


def use_python_logging() -> None:
    """Routes libweft's log to the ``weft.<component>`` loggers of the
    standard ``logging`` module."""
    levels = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}

    def handler(level: LogLevel, component: str, message: str) -> None:
        logging.getLogger(f"weft.{component}").log(levels.get(int(level), logging.INFO), message)

    set_log_handler(handler)


def set_log_level(level: LogLevel) -> None:
    """Sets the level of every component (weft_set_log_level)."""
    lib.weft_set_log_level(int(level))


def set_log_spec(spec: str) -> None:
    """Per-component levels, "ice:debug,*:warning" (raises WeftSyntaxError)."""
    check(lib.weft_set_log_spec(spec.encode()))


def version() -> str:
    """The library's version string ("0.1.0")."""
    return cstr(lib.weft_version_string())


def build_info() -> str:
    """The dependency versions compiled into libweft."""
    return cstr(lib.weft_build_info())


def debug_live_objects() -> int:
    """Live library objects (contexts, pcs, dcs, tracks) in the process."""
    return int(lib.weft_debug_live_objects())


# ===== Context ==============================================================


def _release_context(handle: int, cleanups: List[Callable[[], None]]) -> None:
    for fn in cleanups:
        try:
            fn()
        except Exception:  # noqa: BLE001 - e.g. the event loop is already closed
            pass
    lib.weft_context_unref(handle)


class Context:
    """Where weft runs its engine and where callbacks are called.

    * ``ContextMode.THREAD``: a private weft thread runs the engine and calls
      your callbacks *on that thread* (ctypes takes the GIL for each call;
      blocking weft calls release it, so this cannot deadlock). Exceptions in
      callbacks are logged on the ``weft`` logger.
    * ``ContextMode.QUEUED``: the engine runs on a weft thread but callbacks
      are queued and run by :meth:`dispatch` on whichever thread calls it
      (readable :attr:`fd` = events pending). Exceptions in callbacks are
      re-raised by :meth:`dispatch`. :mod:`weft.aio` and :mod:`weft.blocking`
      build on this mode.
    * :meth:`for_main_context`: GLib mode (callbacks wherever you iterate the
      GMainContext).

    A PeerConnection keeps its Context alive. :meth:`close` closes every
    peer connection created on the context and releases it.
    """

    mode: Optional[ContextMode]

    def __init__(
        self,
        mode: ContextMode = ContextMode.THREAD,
        *,
        thread_name: Optional[str] = None,
        max_queued_events: int = 0,
    ) -> None:
        opts = _lib.ContextOptions(
            ctypes.sizeof(_lib.ContextOptions),
            int(mode),
            thread_name.encode() if thread_name else None,
            max_queued_events,
        )
        handle = lib.weft_context_new(ctypes.byref(opts))
        if not handle:
            raise last_error()
        self._init(handle, ContextMode(mode))

    @classmethod
    def for_main_context(cls, main_context: int) -> "Context":
        """GLib mode: a context on an existing ``GMainContext *`` given as its
        address (an int). Callbacks run wherever that main context is
        iterated. The GMainContext must outlive the context."""
        handle = lib.weft_context_new_for_main_context(main_context)
        if not handle:
            raise last_error()
        self = cls.__new__(cls)
        Context._init(self, handle, None)
        return self

    def _init(self, handle: int, mode: Optional[ContextMode]) -> None:
        self._handle: Optional[int] = handle
        self.mode = mode
        self._pending: List[BaseException] = []
        self._cleanups: List[Callable[[], None]] = []
        self._pcs: "weakref.WeakSet[PeerConnection]" = weakref.WeakSet()
        self._finalizer = weakref.finalize(self, _release_context, handle, self._cleanups)

    @property
    def handle(self) -> int:
        """The raw ``weft_context *`` (raises ClosedError once closed)."""
        if self._handle is None:
            raise ClosedError(-11, "context closed")
        return self._handle

    @property
    def fd(self) -> int:
        """QUEUED mode: readable while events are pending (do not read it)."""
        return check(lib.weft_context_get_fd(self.handle))

    def dispatch(self, max_events: int = 0) -> int:
        """QUEUED mode: runs up to ``max_events`` pending callbacks (all if 0)
        on this thread; returns how many ran. Re-raises the first exception a
        callback raised (later ones are logged)."""
        n = check(lib.weft_context_dispatch(self.handle, max_events))
        self._raise_pending()
        return n

    def wait(self, timeout: Optional[float] = None) -> bool:
        """QUEUED mode: waits up to ``timeout`` seconds (None = forever) for an
        event; True if one is pending."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        return check(lib.weft_context_wait(self.handle, ms)) == 1

    def is_current(self) -> bool:
        """True on the context's engine thread."""
        return bool(lib.weft_context_is_current(self.handle))

    def close(self) -> None:
        """Closes every peer connection of this context and releases it."""
        for pc in list(self._pcs):
            pc.close()
        self._handle = None
        self._finalizer()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- hooks for the callback layers -------------------------------------
    def _callback_failed(self, exc: BaseException) -> None:
        if self.mode == ContextMode.QUEUED:
            self._pending.append(exc)
        else:
            _log_exception("exception in a weft callback", exc)

    def _raise_pending(self) -> None:
        if self._pending:
            first, rest = self._pending[0], self._pending[1:]
            self._pending.clear()
            for e in rest:
                _log_exception("further exception in a weft callback", e)
            raise first

    def _handle_result(self, result: Any) -> None:
        """A callback returned something; the asyncio layer runs coroutines."""
        if inspect.iscoroutine(result):
            result.close()
            raise TypeError("coroutine callbacks need the asyncio layer (weft.aio)")

    def _notify(self) -> None:
        """An event was delivered (waiters may re-check their condition)."""


def _log_exception(what: str, exc: BaseException) -> None:
    # Formatted now, not passed as exc_info: a log record that outlives the
    # call (a MemoryHandler, pytest's caplog) would otherwise keep the
    # traceback's frames, and through them the wrappers, alive.
    log.error("%s:\n%s", what, "".join(traceback.format_exception(type(exc), exc,
                                                                   exc.__traceback__)))


def _emit_on(obj: Any, name: str, *args: Any) -> None:
    fn = obj._handlers.get(name)
    ctx = obj._context
    if fn is not None:
        try:
            result = fn(*args)
            if result is not None and ctx is not None:
                ctx._handle_result(result)
        except BaseException as e:  # noqa: BLE001 - routed to the Python side
            if ctx is not None:
                ctx._callback_failed(e)
            else:
                _log_exception("exception in a weft callback", e)
    if ctx is not None:
        ctx._notify()


class _Handler:
    """A callback property: assigning a callable installs the C handler.
    ``backlog`` names the wrapper's deque of events kept while no handler was
    set; a new handler gets them first, in order."""

    def __init__(self, doc: str, backlog: Optional[str] = None) -> None:
        self.__doc__ = doc
        self.backlog = backlog

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return obj._handlers.get(self.name)

    def __set__(self, obj: Any, fn: Optional[Callable[..., Any]]) -> None:
        if fn is not None and not callable(fn):
            raise TypeError(f"{self.name} must be callable or None")
        obj._handlers[self.name] = fn
        if fn is None:
            return
        if self.backlog is not None:
            queue = getattr(obj, self.backlog)
            while queue:
                _emit_on(obj, self.name, queue.popleft())
        obj._install(self.name)


def _release(token: int, handle: int, *calls: Callable[[int], Any]) -> None:
    """A wrapper's finalizer: forgets its token, then drops its C reference
    with @calls (e.g. weft_dc_unref)."""
    _registry.pop(token, None)
    for call in calls:
        call(handle)


class _Wrapper:
    """What PeerConnection, DataChannel and Track share: C handlers are
    installed on demand, from the class's table of setters."""

    _SETTERS: Dict[str, Tuple[str, Any]]  # handler name -> (weft setter, trampoline)
    _handle: int
    _closed: bool
    _installed: set

    def _install(self, name: str) -> None:
        if name in self._installed or self._closed:
            return
        setter, tramp = self._SETTERS[name]
        check(getattr(lib, setter)(self._handle, tramp))
        self._installed.add(name)


class _PcChild(_Wrapper):
    """What DataChannel and Track share: a C object of a PeerConnection
    with its own token, referring to the pc weakly."""

    def _wrap(self, handle: int, pc: "PeerConnection", set_user_data: Callable[..., int],
              unref: Callable[[int], None]) -> None:
        """Wraps @handle (a reference this wrapper owns) of @pc."""
        self._handle = handle
        self._closed = False
        self._handlers: Dict[str, Optional[Callable[..., Any]]] = {}
        self._installed = set()
        self._pc_ref = weakref.ref(pc)
        self._context = pc._context
        self._token = _register(self)
        self._finalizer = weakref.finalize(self, _release, self._token, handle, unref)
        # The user data must be set before any handler: an object the remote
        # created starts with its pc's token.
        check(set_user_data(handle, self._token, _lib.NO_DESTROY))

    @property
    def handle(self) -> int:
        """The raw ``weft_dc *`` / ``weft_track *`` (valid while this wrapper
        lives)."""
        return self._handle

    @property
    def peer_connection(self) -> Optional["PeerConnection"]:
        """The PeerConnection, or None once it was garbage-collected."""
        return self._pc_ref()


# ===== Configuration ========================================================


def _release_config(handle: int) -> None:
    lib.weft_config_free(handle)


class Configuration:
    """RTCConfiguration plus weft's extensions. Copied by PeerConnection(),
    so one Configuration can serve many peer connections. Not thread-safe.

    Keyword arguments set the matching properties::

        Configuration(ice_servers=["stun:127.0.0.1:3478"], enable_loopback=True)
    """

    def __init__(
        self,
        *,
        ice_servers: Iterable[Union[str, IceServer]] = (),
        ice_transport_policy: IceTransportPolicy = IceTransportPolicy.ALL,
        port_range: Optional[Tuple[int, int]] = None,
        max_message_size: Optional[int] = None,
        send_buffer_limit: Optional[int] = None,
        receive_buffer_limit: Optional[int] = None,
        enable_loopback: bool = False,
        ice_tcp: bool = False,
        certificate_reuse: bool = True,
        certificate_type: CertificateType = CertificateType.ECDSA_P256,
    ) -> None:
        handle = lib.weft_config_new()
        if not handle:
            raise last_error()
        self._handle = handle
        self._finalizer = weakref.finalize(self, _release_config, handle)
        self._ice_servers: List[IceServer] = []
        self._policy = IceTransportPolicy.ALL
        self._port_range = (0, 0)
        self._max_message_size = 262144
        self._send_buffer_limit = 16 * 1024 * 1024
        self._receive_buffer_limit = 4 * 1024 * 1024
        self._loopback = False
        self._ice_tcp = False
        self._cert_reuse = True
        self._cert_type = CertificateType.ECDSA_P256
        for s in ice_servers:
            self.add_ice_server(s)
        self.ice_transport_policy = ice_transport_policy
        if port_range is not None:
            self.port_range = port_range
        if max_message_size is not None:
            self.max_message_size = max_message_size
        if send_buffer_limit is not None:
            self.send_buffer_limit = send_buffer_limit
        if receive_buffer_limit is not None:
            self.receive_buffer_limit = receive_buffer_limit
        self.enable_loopback = enable_loopback
        self.ice_tcp = ice_tcp
        self.certificate_reuse = certificate_reuse
        self.certificate_type = certificate_type

    @property
    def handle(self) -> int:
        """The raw ``weft_config *``."""
        return self._handle

    def add_ice_server(
        self,
        server: Union[str, IceServer],
        username: Optional[str] = None,
        credential: Optional[str] = None,
    ) -> None:
        """Adds "stun:host[:port]" / "turn:host[:port]" (with credentials)."""
        if isinstance(server, str):
            server = IceServer(server, username, credential)
        urls = [server.urls] if isinstance(server.urls, str) else list(server.urls)
        for url in urls:
            check(
                lib.weft_config_add_ice_server(
                    self._handle,
                    url.encode(),
                    server.username.encode() if server.username is not None else None,
                    server.credential.encode() if server.credential is not None else None,
                )
            )
        self._ice_servers.append(server)

    @property
    def ice_servers(self) -> List[IceServer]:
        return list(self._ice_servers)

    @property
    def ice_transport_policy(self) -> IceTransportPolicy:
        return self._policy

    @ice_transport_policy.setter
    def ice_transport_policy(self, p: IceTransportPolicy) -> None:
        check(lib.weft_config_set_ice_transport_policy(self._handle, int(p)))
        self._policy = IceTransportPolicy(p)

    @property
    def port_range(self) -> Tuple[int, int]:
        """Local UDP port range for host candidates ((0, 0) = any)."""
        return self._port_range

    @port_range.setter
    def port_range(self, r: Tuple[int, int]) -> None:
        lo, hi = r
        check(lib.weft_config_set_port_range(self._handle, lo, hi))
        self._port_range = (lo, hi)

    @property
    def max_message_size(self) -> int:
        """The a=max-message-size weft advertises (0 = any size)."""
        return self._max_message_size

    @max_message_size.setter
    def max_message_size(self, n: int) -> None:
        check(lib.weft_config_set_max_message_size(self._handle, n))
        self._max_message_size = n

    @property
    def send_buffer_limit(self) -> int:
        """Per-channel bufferedAmount above which send raises BufferFullError."""
        return self._send_buffer_limit

    @send_buffer_limit.setter
    def send_buffer_limit(self, n: int) -> None:
        check(lib.weft_config_set_send_buffer_limit(self._handle, n))
        self._send_buffer_limit = n

    @property
    def receive_buffer_limit(self) -> int:
        """Bytes of received messages the application has not taken yet
        (per peer connection) above which weft stops reading: the remote
        waits (its buffered_amount grows), nothing is dropped."""
        return self._receive_buffer_limit

    @receive_buffer_limit.setter
    def receive_buffer_limit(self, n: int) -> None:
        check(lib.weft_config_set_receive_buffer_limit(self._handle, n))
        self._receive_buffer_limit = n

    @property
    def enable_loopback(self) -> bool:
        """Gather on 127.0.0.1 only (tests, single-machine demos)."""
        return self._loopback

    @enable_loopback.setter
    def enable_loopback(self, on: bool) -> None:
        check(lib.weft_config_set_enable_loopback(self._handle, int(bool(on))))
        self._loopback = bool(on)

    @property
    def ice_tcp(self) -> bool:
        """ICE-TCP (RFC 6544): also gather, signal and accept host TCP
        candidates (tcptype active/passive). Off by default: libnice then
        listens on a TCP port on every gathered address, and UDP wins
        whenever it works (weft_config_set_ice_tcp, doc/nat.md)."""
        return self._ice_tcp

    @ice_tcp.setter
    def ice_tcp(self, on: bool) -> None:
        check(lib.weft_config_set_ice_tcp(self._handle, int(bool(on))))
        self._ice_tcp = bool(on)

    @property
    def certificate_reuse(self) -> bool:
        """Share the context's certificate (default) instead of a fresh one."""
        return self._cert_reuse

    @certificate_reuse.setter
    def certificate_reuse(self, on: bool) -> None:
        check(lib.weft_config_set_certificate_reuse(self._handle, int(bool(on))))
        self._cert_reuse = bool(on)

    @property
    def certificate_type(self) -> CertificateType:
        """Key type of weft's own DTLS certificate (ECDSA P-256 by default;
        RSA-2048 for peers that accept nothing else)."""
        return self._cert_type

    @certificate_type.setter
    def certificate_type(self, t: CertificateType) -> None:
        check(lib.weft_config_set_certificate_type(self._handle, int(t)))
        self._cert_type = CertificateType(t)


# ===== Data channel =========================================================


_DC_SETTERS = {
    "on_open": ("weft_dc_set_on_open", _t_dc_open),
    "on_closing": ("weft_dc_set_on_closing", _t_dc_closing),
    "on_close": ("weft_dc_set_on_close", _t_dc_close),
    "on_error": ("weft_dc_set_on_error", _t_error),
    "on_buffered_amount_low": ("weft_dc_set_on_buffered_amount_low", _t_dc_low),
    "on_message": ("weft_dc_set_on_message", _t_dc_message),
}


_DC_EVENT_STATE = {
    "on_open": DataChannelState.OPEN,
    "on_closing": DataChannelState.CLOSING,
    "on_close": DataChannelState.CLOSED,
}


class DataChannel(_PcChild):
    """RTCDataChannel. Get one from :meth:`PeerConnection.create_data_channel`
    or from ``on_data_channel``.

    Messages arrive as ``str`` (text) or ``bytes`` (binary), through
    ``on_message`` if set, else into an inbox read by the waiting layers'
    ``recv()``. A DataChannel does not keep its PeerConnection alive; once the
    pc is closed or released the channel is inert (send raises ClosedError).
    """

    on_open = _Handler("``fn()`` when the channel opens.")
    on_message = _Handler("``fn(message: str | bytes)`` for every message; messages\n"
                          "        that arrived before it was set are delivered first.",
                          backlog="_inbox")
    on_closing = _Handler("``fn()`` when the remote starts closing the channel.")
    on_close = _Handler("``fn()`` when the channel is closed.")
    on_error = _Handler("``fn(info: ErrorInfo)`` on an asynchronous failure.")
    on_buffered_amount_low = _Handler("``fn()`` when bufferedAmount drops to the threshold.")

    _SETTERS = _DC_SETTERS

    def __init__(self) -> None:
        raise TypeError("use PeerConnection.create_data_channel()")

    @classmethod
    def _adopt(cls, handle: int, pc: "PeerConnection") -> "DataChannel":
        """Wraps @handle (a reference the new wrapper owns) of @pc."""
        self = cls.__new__(cls)
        self._inbox: Deque[Message] = collections.deque()
        # The state as last reported by a delivered event. The C getters read
        # the engine's state, which runs ahead of the queued callbacks; the
        # waiting layers wait for the events so that handlers have run.
        self._seen_state = DataChannelState.CONNECTING
        self._wrap(handle, pc, lib.weft_dc_set_user_data, lib.weft_dc_unref)
        for name in ("on_open", "on_closing", "on_close", "on_error"):
            self._install(name)
        pc._channels.append(self)
        return self

    def _emit(self, name: str, *args: Any) -> None:
        state = _DC_EVENT_STATE.get(name)
        if state is not None:
            self._seen_state = state
        _emit_on(self, name, *args)

    def _deliver(self, msg: Message) -> None:
        if self._handlers.get("on_message") is not None:
            _emit_on(self, "on_message", msg)
        else:
            self._inbox.append(msg)
            if self._context is not None:
                self._context._notify()

    # --- properties --------------------------------------------------------
    @property
    def label(self) -> str:
        return cstr(lib.weft_dc_get_label(self._handle))

    @property
    def protocol(self) -> str:
        return cstr(lib.weft_dc_get_protocol(self._handle))

    @property
    def id(self) -> Optional[int]:
        """The SCTP stream id, None until assigned."""
        i = lib.weft_dc_get_id(self._handle)
        return None if i < 0 else i

    @property
    def ordered(self) -> bool:
        return bool(lib.weft_dc_get_ordered(self._handle))

    @property
    def negotiated(self) -> bool:
        return bool(lib.weft_dc_get_negotiated(self._handle))

    @property
    def max_retransmits(self) -> Optional[int]:
        n = lib.weft_dc_get_max_retransmits(self._handle)
        return None if n < 0 else n

    @property
    def max_packet_life_time(self) -> Optional[int]:
        n = lib.weft_dc_get_max_packet_life_time(self._handle)
        return None if n < 0 else n

    @property
    def ready_state(self) -> DataChannelState:
        return DataChannelState(lib.weft_dc_get_ready_state(self._handle))

    @property
    def buffered_amount(self) -> int:
        return int(lib.weft_dc_get_buffered_amount(self._handle))

    @property
    def buffered_amount_low_threshold(self) -> int:
        return int(lib.weft_dc_get_buffered_amount_low_threshold(self._handle))

    @buffered_amount_low_threshold.setter
    def buffered_amount_low_threshold(self, n: int) -> None:
        check(lib.weft_dc_set_buffered_amount_low_threshold(self._handle, n))

    # --- actions -----------------------------------------------------------
    def send(self, data: Union[str, bytes, bytearray, memoryview]) -> None:
        """Sends a text message (``str``) or a binary one (bytes-like).
        Raises InvalidStateError (not open), TooBigError, BufferFullError,
        ClosedError."""
        if isinstance(data, str):
            b = data.encode("utf-8")
            check(lib.weft_dc_send_text(self._handle, b, len(b)))
        else:
            b = bytes(data)
            check(lib.weft_dc_send(self._handle, b, len(b)))

    def close(self) -> None:
        """Closes the channel; none of its callbacks is called afterwards."""
        self._closed = True
        lib.weft_dc_close(self._handle)

    def __repr__(self) -> str:
        return f"<weft.DataChannel {self.label!r} id={self.id} {self.ready_state}>"


# ===== Track ================================================================


_TRACK_SETTERS = {
    "on_rtp": ("weft_track_set_on_rtp", _t_track_rtp),
    "on_rtcp": ("weft_track_set_on_rtcp", _t_track_rtcp),
    "on_frame": ("weft_track_set_on_frame", _t_track_frame),
    "on_keyframe_request": ("weft_track_set_on_keyframe_request", _t_track_keyframe),
}

# Frames kept for recv_frame() (waiting layers) while nobody reads them; the
# oldest are dropped beyond this (a live stream must not grow without bound).
FRAME_INBOX_MAX = 1024


class _TrackHandler(_Handler):
    """A track callback property. Unlike data channel handlers, assigning
    None also clears the C handler: weft then skips the work (reassembly for
    on_frame, a copy per packet for on_rtp) -- and the waiting layers stop
    keeping frames for recv_frame() until it is called again."""

    def __set__(self, obj: Any, fn: Optional[Callable[..., Any]]) -> None:
        super().__set__(obj, fn)
        if fn is None:
            obj._sticky.discard(self.name)
            if self.backlog is not None:
                getattr(obj, self.backlog).clear()
            obj._uninstall(self.name)


class Track(_PcChild):
    """A media track: one audio or video m-section with a sender and a
    receiver (W3C RTCRtpTransceiver). Get one from
    :meth:`PeerConnection.add_track` or from ``on_track`` (tracks the remote
    offered).

    weft neither captures nor encodes: :meth:`send_frame` takes *encoded*
    frames (Opus packets, VP8 frames, H264 access units), ``on_frame`` gives
    encoded frames back, reassembled; :meth:`send_rtp` / ``on_rtp`` work on
    whole RTP packets. RTCP (reports, NACK, PLI) is handled by weft.

    A Track does not keep its PeerConnection alive; once the pc is closed or
    released the track is inert (sends raise ClosedError).
    """

    on_frame = _TrackHandler("``fn(frame: Frame)`` for every frame received, whole and in order.",
                             backlog="_frames")
    on_rtp = _TrackHandler("``fn(packet: bytes)`` for every RTP packet received (decrypted).")
    on_rtcp = _TrackHandler("``fn(packet: bytes)`` for every RTCP compound packet received.")
    on_keyframe_request = _TrackHandler("``fn()`` when the remote asks for a keyframe (PLI/FIR).")

    _SETTERS = _TRACK_SETTERS
    # The waiting layers keep frames for recv_frame() from the start: weft
    # drops frames that arrive while no C handler is set, so waiting for the
    # first recv_frame() call would lose the first frames of a stream.
    _keeps_frames = False

    def __init__(self) -> None:
        raise TypeError("use PeerConnection.add_track()")

    @classmethod
    def _adopt(cls, handle: int, pc: "PeerConnection") -> "Track":
        """Wraps @handle (a reference the new wrapper owns) of @pc."""
        self = cls.__new__(cls)
        # C handlers the waiting layers need while no user handler is set:
        # "on_frame" (frames then wait in _frames for recv_frame()),
        # "on_keyframe_request" once it was waited for.
        self._sticky: set = set()
        self._frames: Deque[Frame] = collections.deque(maxlen=FRAME_INBOX_MAX)
        self._keyframe_requests = 0  # delivered while the C handler was set
        self._wrap(handle, pc, lib.weft_track_set_user_data, lib.weft_track_unref)
        pc._tracks.append(self)
        if cls._keeps_frames:
            self._keep_installed("on_frame")
        return self

    def _uninstall(self, name: str) -> None:
        if name not in self._installed:
            return
        setter, tramp = _TRACK_SETTERS[name]
        check(getattr(lib, setter)(self._handle, type(tramp)()))  # NULL: no handler
        self._installed.discard(name)

    def _emit(self, name: str, *args: Any) -> None:
        if name == "on_keyframe_request":
            self._keyframe_requests += 1
        _emit_on(self, name, *args)

    def _deliver_frame(self, frame: Frame) -> None:
        if self._handlers.get("on_frame") is not None:
            _emit_on(self, "on_frame", frame)
        elif "on_frame" in self._sticky:
            self._frames.append(frame)
            if self._context is not None:
                self._context._notify()

    def _keep_installed(self, name: str) -> None:
        self._sticky.add(name)
        self._install(name)

    # --- properties --------------------------------------------------------
    @property
    def kind(self) -> MediaKind:
        return MediaKind(lib.weft_track_get_kind(self._handle))

    @property
    def mid(self) -> Optional[str]:
        """The m-section's mid, None until negotiated."""
        out = ctypes.c_void_p()
        check(lib.weft_track_get_mid(self._handle, ctypes.byref(out)))
        return take_string(out.value)

    @property
    def direction(self) -> Direction:
        """What the application wants (W3C transceiver.direction). Setting it
        fires negotiation-needed; Direction.STOPPED is refused (use stop())."""
        return Direction(lib.weft_track_get_direction(self._handle))

    @direction.setter
    def direction(self, d: Union[Direction, str]) -> None:
        check(lib.weft_track_set_direction(self._handle, int(_to_enum(Direction, d, "direction"))))

    @property
    def current_direction(self) -> Direction:
        """As negotiated (INACTIVE before, STOPPED once stopped/rejected)."""
        return Direction(lib.weft_track_get_current_direction(self._handle))

    @property
    def send_codec(self) -> Optional[CodecParameters]:
        """The codec frames are sent with, None before negotiation."""
        p = _lib.CodecParams()
        p.struct_size = ctypes.sizeof(_lib.CodecParams)
        rc = lib.weft_track_get_send_codec(self._handle, ctypes.byref(p))
        if rc == _ERR_INVALID_STATE:
            return None
        check(rc)
        try:
            codec = Codec(p.codec)
        except ValueError:
            codec = Codec.NONE
        return CodecParameters(codec, p.payload_type, p.clock_rate, p.channels)

    def stats(self) -> TrackStats:
        """The track's counters (weft_track_get_stats); any thread."""
        s = _lib.TrackStatsStruct()
        s.struct_size = ctypes.sizeof(_lib.TrackStatsStruct)
        check(lib.weft_track_get_stats(self._handle, ctypes.byref(s)))
        names = _lib.TRACK_STATS_COUNTERS + _lib.TRACK_STATS_LATER_COUNTERS
        counters = {name: int(getattr(s, name)) for name in names}
        return TrackStats(**counters, rtt_us=None if s.rtt_us < 0 else int(s.rtt_us))

    # --- actions -----------------------------------------------------------
    def send_frame(
        self,
        data: Union[bytes, bytearray, memoryview],
        rtp_timestamp: Optional[int] = None,
        pts_us: Optional[int] = None,
    ) -> None:
        """Sends one encoded frame with the negotiated codec; weft packetizes,
        protects and sends it (the data is copied). ``rtp_timestamp`` (codec
        clock units) wins over ``pts_us`` (microseconds; weft adds a random
        base); with neither the timestamp comes from the clock. Raises
        InvalidStateError (not negotiated, direction without send, not
        connected, stopped), WeftSyntaxError (a malformed Opus packet or H264
        framing), TooBigError, BufferFullError, ClosedError. (No keyframe
        flag: weft reads it from the payload.)"""
        b = bytes(data)
        info = None
        if rtp_timestamp is not None or pts_us is not None:
            info = _lib.FrameInfo()
            info.struct_size = ctypes.sizeof(_lib.FrameInfo)
            if rtp_timestamp is not None:
                info.has_rtp_timestamp = 1
                info.rtp_timestamp = rtp_timestamp & 0xFFFFFFFF
            info.pts_us = 0 if pts_us is None else pts_us
            info = ctypes.byref(info)
        check(lib.weft_track_send_frame(self._handle, b, len(b), info))

    def send_rtp(
        self,
        packet: Union[bytes, bytearray, memoryview],
        *,
        keep_seq: bool = False,
        keep_timestamp: bool = False,
    ) -> None:
        """Sends a whole RTP packet: weft rewrites the SSRC, payload type and
        header extensions, renumbers the sequence (unless ``keep_seq``) and
        rebases the timestamp (unless ``keep_timestamp``). Raises
        WeftSyntaxError for a packet that is not RTP; else as send_frame."""
        b = bytes(packet)
        flags = (_RTP_KEEP_SEQ if keep_seq else 0) | (_RTP_KEEP_TIMESTAMP if keep_timestamp else 0)
        check(lib.weft_track_send_rtp(self._handle, b, len(b), flags))

    def send_rtcp(self, packet: Union[bytes, bytearray, memoryview]) -> None:
        """Sends an application RTCP compound packet (WeftSyntaxError if it is
        not RTCP)."""
        b = bytes(packet)
        check(lib.weft_track_send_rtcp(self._handle, b, len(b)))

    def request_keyframe(self) -> None:
        """Asks the remote sender for a keyframe (PLI). InvalidStateError
        before anything was received on the track."""
        check(lib.weft_track_request_keyframe(self._handle))

    def stop(self) -> None:
        """W3C transceiver.stop(): stops sending and receiving; the m-section
        is rejected in the next negotiation. No callback of the track is
        called afterwards. Idempotent."""
        self._closed = True
        check(lib.weft_track_stop(self._handle))

    @property
    def stopped(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"<weft.Track {self.kind} mid={self.mid} {self.current_direction}>"


# ===== Peer connection ======================================================


_PC_SETTERS = {
    "on_ice_candidate": ("weft_pc_set_on_ice_candidate", _t_ice_candidate),
    "on_connection_state_change": ("weft_pc_set_on_connection_state_change", _t_connection_state),
    "on_ice_connection_state_change": ("weft_pc_set_on_ice_connection_state_change", _t_ice_state),
    "on_ice_gathering_state_change": (
        "weft_pc_set_on_ice_gathering_state_change",
        _t_gathering_state,
    ),
    "on_signaling_state_change": ("weft_pc_set_on_signaling_state_change", _t_signaling_state),
    "on_negotiation_needed": ("weft_pc_set_on_negotiation_needed", _t_negotiation_needed),
    "on_data_channel": ("weft_pc_set_on_data_channel", _t_data_channel),
    "on_error": ("weft_pc_set_on_error", _t_error),
    "on_track": ("weft_pc_set_on_track", _t_track),
}


def _desc_type(t: Union[SdpType, str]) -> SdpType:
    if isinstance(t, str) and not isinstance(t, SdpType):
        return SessionDescription(t, "").type
    return SdpType(t)


class PeerConnection(_Wrapper):
    """RTCPeerConnection.

    ``context`` None uses weft's process-wide default context (THREAD mode:
    callbacks on a weft thread). Keep a reference for as long as you want the
    connection: when the wrapper is garbage-collected the pc is closed and
    released. Handlers are attributes (``pc.on_data_channel = fn``); set them
    before the events you want can happen (a state handler set late is called
    once with the current state).
    """

    _SETTERS = _PC_SETTERS
    _dc_class: type = DataChannel
    _track_class: type = Track

    on_ice_candidate = _Handler("``fn(candidate: IceCandidate | None)``; None = gathering done.")
    on_connection_state_change = _Handler("``fn(state: PeerConnectionState)``.")
    on_ice_connection_state_change = _Handler("``fn(state: IceConnectionState)``.")
    on_ice_gathering_state_change = _Handler("``fn(state: IceGatheringState)``.")
    on_signaling_state_change = _Handler("``fn(state: SignalingState)``.")
    on_negotiation_needed = _Handler("``fn()``.")
    on_data_channel = _Handler("``fn(channel: DataChannel)`` for channels the remote opens.")
    on_error = _Handler("``fn(info: ErrorInfo)`` on an asynchronous failure.")
    on_track = _Handler("``fn(track: Track)`` for each audio/video section the remote adds.")

    def __init__(
        self,
        context: Optional[Context] = None,
        configuration: Optional[Configuration] = None,
    ) -> None:
        self._closed = False
        self._context = context
        self._handlers: Dict[str, Optional[Callable[..., Any]]] = {}
        self._installed = set()
        self._channels: List[DataChannel] = []
        self._incoming: Deque[DataChannel] = collections.deque()
        self._tracks: List[Track] = []
        self._incoming_tracks: Deque[Track] = collections.deque()
        # States as last reported by delivered events (see DataChannel).
        self._seen_connection_state = PeerConnectionState.NEW
        self._seen_gathering_state = IceGatheringState.NEW
        handle = lib.weft_pc_new(
            context.handle if context is not None else None,
            configuration.handle if configuration is not None else None,
        )
        if not handle:
            raise last_error()
        self._h: Optional[int] = handle
        self._final_states: Tuple[int, int, int, int] = (5, 6, 2, 5)
        self._token = _register(self)
        self._finalizer = weakref.finalize(self, _release, self._token, handle, lib.weft_pc_close,
                                           lib.weft_pc_unref)
        check(lib.weft_pc_set_user_data(handle, self._token, _lib.NO_DESTROY))
        # Always: remote channels and tracks must get a wrapper that owns a
        # reference.
        self._install("on_data_channel")
        self._install("on_track")
        for name in ("on_connection_state_change", "on_ice_gathering_state_change", "on_error"):
            self._install(name)
        if context is not None:
            context._pcs.add(self)

    def _emit(self, name: str, *args: Any) -> None:
        if name == "on_connection_state_change":
            self._seen_connection_state = args[0]
        elif name == "on_ice_gathering_state_change":
            self._seen_gathering_state = args[0]
        _emit_on(self, name, *args)

    @property
    def _handle(self) -> int:
        h = self._h
        if h is None:
            raise ClosedError(-11, "peer connection closed")
        return h

    @property
    def handle(self) -> int:
        """The raw ``weft_pc *``, valid until :meth:`close` (raises
        ClosedError afterwards)."""
        return self._handle

    @property
    def context(self) -> Optional[Context]:
        return self._context

    # --- negotiation -------------------------------------------------------
    def create_offer(self, *, ice_restart: bool = False) -> SessionDescription:
        """Creates an offer (not applied: pass it to set_local_description)."""
        opts = _lib.OfferOptions(ctypes.sizeof(_lib.OfferOptions), int(ice_restart))
        out = ctypes.c_void_p()
        check(lib.weft_pc_create_offer(self._handle, ctypes.byref(opts), ctypes.byref(out)))
        return SessionDescription(SdpType.OFFER, take_string(out.value) or "")

    def create_answer(self) -> SessionDescription:
        """Creates an answer to the remote offer."""
        out = ctypes.c_void_p()
        check(lib.weft_pc_create_answer(self._handle, ctypes.byref(out)))
        return SessionDescription(SdpType.ANSWER, take_string(out.value) or "")

    def set_local_description(self, description: Optional[SessionDescription] = None) -> None:
        """Applies a local description; None is the implicit form (creates an
        offer or answer as the signaling state requires). Starts gathering."""
        if description is None:
            check(lib.weft_pc_set_local_description(self._handle, SdpType.UNSPEC, None))
        else:
            check(
                lib.weft_pc_set_local_description(
                    self._handle, int(_desc_type(description.type)), description.sdp.encode()
                )
            )

    def set_remote_description(self, description: SessionDescription) -> None:
        """Applies a remote offer or answer (or a rollback). Raises
        WeftSyntaxError (message names the SDP line), InvalidStateError,
        InvalidAccessError, NotSupportedError, ClosedError."""
        t = _desc_type(description.type)
        sdp = description.sdp.encode() if description.sdp else None
        check(lib.weft_pc_set_remote_description(self._handle, int(t), sdp))

    def add_ice_candidate(self, candidate: Union[IceCandidate, str, None]) -> None:
        """Adds a remote candidate; None or "" means end-of-candidates."""
        if candidate is None:
            check(lib.weft_pc_add_ice_candidate(self._handle, None))
            return
        if isinstance(candidate, str):
            candidate = IceCandidate(candidate)
        c = _lib.IceCandidateStruct(
            candidate.candidate.encode(),
            candidate.sdp_mid.encode() if candidate.sdp_mid is not None else None,
            -1 if candidate.sdp_mline_index is None else candidate.sdp_mline_index,
            candidate.username_fragment.encode() if candidate.username_fragment else None,
        )
        check(lib.weft_pc_add_ice_candidate(self._handle, ctypes.byref(c)))

    def get_description(self, which: DescriptionKind) -> Optional[SessionDescription]:
        """One of the six descriptions, or None if there is none."""
        t = ctypes.c_int(0)
        out = ctypes.c_void_p()
        check(lib.weft_pc_get_description(self._handle, int(which), ctypes.byref(t),
                                          ctypes.byref(out)))
        sdp = take_string(out.value)
        return None if sdp is None else SessionDescription(SdpType(t.value), sdp)

    @property
    def local_description(self) -> Optional[SessionDescription]:
        """Includes the candidates gathered so far (all of them, with
        a=end-of-candidates, once gathering is complete)."""
        return self.get_description(DescriptionKind.LOCAL)

    @property
    def remote_description(self) -> Optional[SessionDescription]:
        return self.get_description(DescriptionKind.REMOTE)

    @property
    def current_local_description(self) -> Optional[SessionDescription]:
        return self.get_description(DescriptionKind.CURRENT_LOCAL)

    @property
    def current_remote_description(self) -> Optional[SessionDescription]:
        return self.get_description(DescriptionKind.CURRENT_REMOTE)

    @property
    def pending_local_description(self) -> Optional[SessionDescription]:
        return self.get_description(DescriptionKind.PENDING_LOCAL)

    @property
    def pending_remote_description(self) -> Optional[SessionDescription]:
        return self.get_description(DescriptionKind.PENDING_REMOTE)

    # --- state -------------------------------------------------------------
    @property
    def connection_state(self) -> PeerConnectionState:
        if self._h is None:
            return PeerConnectionState(self._final_states[0])
        return PeerConnectionState(lib.weft_pc_get_connection_state(self._h))

    @property
    def ice_connection_state(self) -> IceConnectionState:
        if self._h is None:
            return IceConnectionState(self._final_states[1])
        return IceConnectionState(lib.weft_pc_get_ice_connection_state(self._h))

    @property
    def ice_gathering_state(self) -> IceGatheringState:
        if self._h is None:
            return IceGatheringState(self._final_states[2])
        return IceGatheringState(lib.weft_pc_get_ice_gathering_state(self._h))

    @property
    def signaling_state(self) -> SignalingState:
        if self._h is None:
            return SignalingState(self._final_states[3])
        return SignalingState(lib.weft_pc_get_signaling_state(self._h))

    @property
    def selected_candidate_pair(self) -> Optional[Tuple[str, str]]:
        """(local, remote) candidate strings, None until ICE selected a pair."""
        a, b = ctypes.c_void_p(), ctypes.c_void_p()
        rc = lib.weft_pc_get_selected_candidate_pair(self._handle, ctypes.byref(a),
                                                     ctypes.byref(b))
        if rc == _ERR_INVALID_STATE:  # no pair yet
            return None
        check(rc)
        return take_string(a.value) or "", take_string(b.value) or ""

    @property
    def local_fingerprint(self) -> str:
        """"sha-256 AB:CD:..." of the local certificate."""
        out = ctypes.c_void_p()
        check(lib.weft_pc_get_local_fingerprint(self._handle, ctypes.byref(out)))
        return take_string(out.value) or ""

    @property
    def max_message_size(self) -> int:
        """Largest message this pc may send (0 before a remote description)."""
        n = ctypes.c_size_t(0)
        check(lib.weft_pc_get_max_message_size(self._handle, ctypes.byref(n)))
        return int(n.value)

    @property
    def data_channels(self) -> List[DataChannel]:
        """Every channel wrapper of this pc (created or received)."""
        return list(self._channels)

    @property
    def tracks(self) -> List[Track]:
        """Every track wrapper of this pc (added or received)."""
        return list(self._tracks)

    # --- channels, tracks and lifetime -------------------------------------
    def add_track(
        self,
        kind: Union[MediaKind, str],
        *,
        direction: Union[Direction, str] = Direction.SENDRECV,
        codecs: Optional[Sequence[Union[Codec, str]]] = None,
        stream_id: Optional[str] = None,
        track_id: Optional[str] = None,
        ssrc: Optional[int] = None,
        rtcp_feedback: bool = True,
    ) -> Track:
        """addTransceiver(kind, init): a new audio or video track, negotiated
        by the next offer/answer (fires negotiation-needed). ``codecs`` in
        preference order (None = every codec of the kind), e.g.
        ``["VP8"]`` or ``[Codec.OPUS]``. ``rtcp_feedback=False`` leaves
        NACK/PLI/reports to the application. Raises InvalidArgumentError (a
        codec of the other kind or listed twice), ClosedError."""
        k = _to_enum(MediaKind, kind, "media kind")
        d = _to_enum(Direction, direction, "direction")
        codec_list = [int(_to_enum(Codec, c, "codec")) for c in (codecs or ())]
        arr = (ctypes.c_int * max(1, len(codec_list)))(*codec_list)
        init = _lib.TrackInit(
            ctypes.sizeof(_lib.TrackInit),
            int(d),
            ctypes.cast(arr, ctypes.POINTER(ctypes.c_int)) if codec_list else None,
            len(codec_list),
            stream_id.encode() if stream_id is not None else None,
            track_id.encode() if track_id is not None else None,
            0 if ssrc is None else ssrc,
            int(bool(rtcp_feedback)),
        )
        handle = lib.weft_pc_add_track(self._handle, int(k), ctypes.byref(init))
        if not handle:
            raise last_error()
        return self._track_class._adopt(handle, self)

    def create_data_channel(
        self,
        label: str,
        *,
        ordered: bool = True,
        max_packet_life_time: Optional[int] = None,
        max_retransmits: Optional[int] = None,
        protocol: str = "",
        negotiated: bool = False,
        id: Optional[int] = None,
        priority: Priority = Priority.LOW,
    ) -> DataChannel:
        """createDataChannel(); the channel opens once SCTP is up."""
        init = _lib.DcInit(
            ctypes.sizeof(_lib.DcInit),
            int(ordered),
            -1 if max_packet_life_time is None else max_packet_life_time,
            -1 if max_retransmits is None else max_retransmits,
            protocol.encode(),
            int(negotiated),
            -1 if id is None else id,
            int(priority),
        )
        handle = lib.weft_pc_create_data_channel(self._handle, label.encode(), ctypes.byref(init))
        if not handle:
            raise last_error()
        return self._dc_class._adopt(handle, self)

    def close(self) -> None:
        """Closes the pc and its channels and releases the C peer connection.
        No callback of the pc or of its channels is called after this
        returns. Idempotent. Afterwards the state properties keep their final
        values, other calls raise ClosedError, and the channels are inert."""
        if self._closed:
            return
        self._closed = True
        for ch in self._channels:
            ch._closed = True
        for t in self._tracks:
            t._closed = True
        h = self._handle
        lib.weft_pc_close(h)
        self._final_states = (
            lib.weft_pc_get_connection_state(h),
            lib.weft_pc_get_ice_connection_state(h),
            lib.weft_pc_get_ice_gathering_state(h),
            lib.weft_pc_get_signaling_state(h),
        )
        self._h = None
        self._finalizer()  # the one weft_pc_unref (close again: harmless)
        self._channels.clear()
        self._incoming.clear()
        self._tracks.clear()
        self._incoming_tracks.clear()
        self._handlers.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "PeerConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<weft.PeerConnection {self.connection_state} {self.signaling_state}>"
