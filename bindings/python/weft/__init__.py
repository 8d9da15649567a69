"""weft: Python binding (ctypes) for libweft, an embeddable WebRTC stack.

Layers:

* this package: :class:`Context`, :class:`Configuration`,
  :class:`PeerConnection`, :class:`DataChannel`, :class:`Track` with callback attributes and
  state properties; synchronous calls that raise :class:`WeftError`
  subclasses;
* :mod:`weft.aio`: asyncio, on a QUEUED context watched with
  ``loop.add_reader`` (``await pc.create_offer()``, ``await dc.wait_open()``);
* :mod:`weft.blocking`: scripts without an event loop, on a QUEUED context
  pumped with ``weft_context_wait`` / ``weft_context_dispatch``.

Media: :class:`Track` (``pc.add_track("video")``, ``pc.on_track``) sends and
receives *encoded* frames (``send_frame`` / ``on_frame``) or whole RTP
packets (``send_rtp`` / ``on_rtp``); weft packetizes, protects (SRTP) and
handles RTCP, the application brings its own encoder and decoder.

The shared library is found through ``$WEFT_LIBRARY``, then
``libweft.so.0`` next to this package, then the dynamic linker's path.
"""

from ._core import (
    CertificateType,
    Codec,
    CodecParameters,
    Configuration,
    Context,
    ContextMode,
    DataChannel,
    DataChannelState,
    DescriptionKind,
    Direction,
    ErrorDetail,
    ErrorInfo,
    Frame,
    IceCandidate,
    IceConnectionState,
    IceGatheringState,
    IceServer,
    IceTransportPolicy,
    LogLevel,
    MediaKind,
    Message,
    PeerConnection,
    PeerConnectionState,
    Priority,
    SdpType,
    SessionDescription,
    SignalingState,
    Track,
    TrackStats,
    build_info,
    debug_live_objects,
    set_log_handler,
    set_log_level,
    set_log_spec,
    use_python_logging,
    version,
)
from ._errors import (
    BufferFullError,
    ClosedError,
    InternalError,
    InvalidAccessError,
    InvalidArgumentError,
    InvalidModificationError,
    InvalidStateError,
    NoMemoryError,
    NotSupportedError,
    OperationError,
    RangeError,
    TooBigError,
    WeftError,
    WeftSyntaxError,
    WeftTimeoutError,
    WrongThreadError,
)

__version__ = "0.1.0"

__all__ = [
    "BufferFullError",
    "CertificateType",
    "ClosedError",
    "Codec",
    "CodecParameters",
    "Configuration",
    "Context",
    "ContextMode",
    "DataChannel",
    "DataChannelState",
    "DescriptionKind",
    "Direction",
    "ErrorDetail",
    "ErrorInfo",
    "Frame",
    "IceCandidate",
    "IceConnectionState",
    "IceGatheringState",
    "IceServer",
    "IceTransportPolicy",
    "InternalError",
    "InvalidAccessError",
    "InvalidArgumentError",
    "InvalidModificationError",
    "InvalidStateError",
    "LogLevel",
    "MediaKind",
    "Message",
    "NoMemoryError",
    "NotSupportedError",
    "OperationError",
    "PeerConnection",
    "PeerConnectionState",
    "Priority",
    "RangeError",
    "SdpType",
    "SessionDescription",
    "SignalingState",
    "TooBigError",
    "Track",
    "TrackStats",
    "WeftError",
    "WeftSyntaxError",
    "WeftTimeoutError",
    "WrongThreadError",
    "build_info",
    "debug_live_objects",
    "set_log_handler",
    "set_log_level",
    "set_log_spec",
    "use_python_logging",
    "version",
]
