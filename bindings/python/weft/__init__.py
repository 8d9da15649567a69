"""weft: Python binding (ctypes) for libweft, an embeddable WebRTC stack.

Layers:

* this package: :class:`Context`, :class:`Configuration`,
  :class:`PeerConnection`, :class:`DataChannel` with callback attributes and
  state properties; synchronous calls that raise :class:`WeftError`
  subclasses;
* :mod:`weft.aio`: asyncio, on a QUEUED context watched with
  ``loop.add_reader`` (``await pc.create_offer()``, ``await dc.wait_open()``);
* :mod:`weft.blocking`: scripts without an event loop, on a QUEUED context
  pumped with ``weft_context_wait`` / ``weft_context_dispatch``.

Media: libweft has no media tracks yet, so there is no ``Track`` class; it
will be added here when ``weft.h`` gains the track API.

The shared library is found through ``$WEFT_LIBRARY``, then
``libweft.so.0`` next to this package, then the dynamic linker's path.
"""

from ._core import (
    Configuration,
    Context,
    ContextMode,
    DataChannel,
    DataChannelState,
    DescriptionKind,
    ErrorDetail,
    ErrorInfo,
    IceCandidate,
    IceConnectionState,
    IceGatheringState,
    IceServer,
    IceTransportPolicy,
    LogLevel,
    Message,
    PeerConnection,
    PeerConnectionState,
    Priority,
    SdpType,
    SessionDescription,
    SignalingState,
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
    "ClosedError",
    "Configuration",
    "Context",
    "ContextMode",
    "DataChannel",
    "DataChannelState",
    "DescriptionKind",
    "ErrorDetail",
    "ErrorInfo",
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
