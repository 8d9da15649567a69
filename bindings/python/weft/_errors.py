"""Exceptions raised by the binding.

Every failing weft call raises a :class:`WeftError` subclass right after the
call, on the calling thread, carrying the library's own error: ``name`` is the
enum spelling from ``weft_err_name()`` (``"WEFT_ERR_SYNTAX"``), ``message`` the
detail from ``weft_last_error_message()`` (``"SDP line 3: ..."``), ``code`` the
negative ``weft_err`` value and ``dom_name`` its W3C DOMException name.
"""

from __future__ import annotations

import builtins
from typing import Dict, Optional, Type

from ._lib import cstr, lib


class WeftError(Exception):
    """Base class of every error reported by libweft."""

    code: int
    name: str
    dom_name: str
    message: str

    def __init__(self, code: int, message: str = "") -> None:
        self.code = code
        self.name = cstr(lib.weft_err_name(code))
        self.dom_name = cstr(lib.weft_err_dom_name(code))
        self.message = message or cstr(lib.weft_strerror(code))
        super().__init__(f"{self.name}: {self.message}")


class InvalidArgumentError(WeftError, ValueError):
    """WEFT_ERR_INVALID_ARG."""


class InvalidStateError(WeftError):
    """WEFT_ERR_INVALID_STATE."""


class InvalidAccessError(WeftError):
    """WEFT_ERR_INVALID_ACCESS."""


class InvalidModificationError(WeftError):
    """WEFT_ERR_INVALID_MODIFICATION."""


class WeftSyntaxError(WeftError, ValueError):
    """WEFT_ERR_SYNTAX: malformed input (SDP, candidate, URL, log spec)."""


class OperationError(WeftError):
    """WEFT_ERR_OPERATION."""


class NotSupportedError(WeftError):
    """WEFT_ERR_NOT_SUPPORTED."""


class RangeError(WeftError, ValueError):
    """WEFT_ERR_RANGE."""


class TooBigError(WeftError, ValueError):
    """WEFT_ERR_TOO_BIG: larger than the remote's max-message-size."""


class BufferFullError(WeftError):
    """WEFT_ERR_AGAIN: the send buffer is full; wait for buffered-amount-low."""


class ClosedError(WeftError):
    """WEFT_ERR_CLOSED: the object (or its peer connection) is closed."""


class NoMemoryError(WeftError, builtins.MemoryError):
    """WEFT_ERR_NO_MEMORY."""


class WeftTimeoutError(WeftError, builtins.TimeoutError):
    """WEFT_ERR_TIMEOUT, also raised by the binding's own bounded waits."""


class WrongThreadError(WeftError):
    """WEFT_ERR_WRONG_THREAD (e.g. dispatching from inside a callback)."""


class InternalError(WeftError):
    """WEFT_ERR_INTERNAL."""


_BY_CODE: Dict[int, Type[WeftError]] = {
    -1: InvalidArgumentError,
    -2: InvalidStateError,
    -3: InvalidAccessError,
    -4: InvalidModificationError,
    -5: WeftSyntaxError,
    -6: OperationError,
    -7: NotSupportedError,
    -8: RangeError,
    -9: TooBigError,
    -10: BufferFullError,
    -11: ClosedError,
    -12: NoMemoryError,
    -13: WeftTimeoutError,
    -14: WrongThreadError,
    -15: InternalError,
}


def error_for(code: int, message: str = "") -> WeftError:
    """The exception for @code (a negative weft_err) with @message."""
    return _BY_CODE.get(code, WeftError)(code, message)


def last_error(code: Optional[int] = None) -> WeftError:
    """Builds the exception for the calling thread's last failed weft call.

    Must be called right after that call, before any other weft function on
    this thread (the message is thread-local and overwritten by the next call).
    """
    if code is None or code >= 0:
        code = lib.weft_last_error()
        if code >= 0:  # a constructor returned NULL without setting an error
            code = -15
    message = cstr(lib.weft_last_error_message())
    return error_for(code, message)


def check(rc: int) -> int:
    """Raises the last error if @rc is negative, else returns it."""
    if rc < 0:
        raise last_error(rc)
    return rc
