"""Loading libweft and declaring every C function the binding uses.

Every function gets explicit ``argtypes``/``restype``: ctypes' defaults (int
arguments, int return) would silently truncate 64-bit pointers and sizes.
Pointers to opaque objects are ``c_void_p``; ``size_t`` is ``c_size_t``.
Strings the library allocates for the caller (``char **`` out-parameters)
are declared as ``POINTER(c_void_p)`` so that ctypes never copies-and-loses
the pointer: :func:`take_string` copies the text and calls ``weft_free``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_long,
    c_size_t,
    c_uint,
    c_uint16,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import List, Optional

SONAME = "libweft.so.0"


def _load() -> ctypes.CDLL:
    """Finds libweft: $WEFT_LIBRARY, then next to this package, then the
    dynamic linker's search path (LD_LIBRARY_PATH, ld.so.cache)."""
    tried: List[str] = []
    candidates: List[str] = []
    env = os.environ.get("WEFT_LIBRARY")
    if env:
        candidates.append(env)
    here = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.join(here, SONAME))
    candidates.append(SONAME)
    found = ctypes.util.find_library("weft")
    if found:
        candidates.append(found)
    for path in candidates:
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path}: no such file")
            continue
        try:
            # CDLL (not PyDLL) releases the GIL around every call: weft's
            # THREAD-mode callbacks need the GIL while the caller waits in C.
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise OSError("cannot load libweft (set WEFT_LIBRARY to the path of libweft.so.0); tried: "
                  + "; ".join(tried))


lib = _load()


# ----- Structures mirroring weft.h ------------------------------------------


class ContextOptions(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("mode", c_int),
        ("thread_name", c_char_p),
        ("max_queued_events", c_uint32),
    ]


class ErrorInfoStruct(Structure):
    _fields_ = [
        ("code", c_int),
        ("detail", c_int),
        ("message", c_char_p),
        ("sctp_cause", c_int),
        ("dtls_alert", c_int),
    ]


class IceCandidateStruct(Structure):
    _fields_ = [
        ("candidate", c_char_p),
        ("sdp_mid", c_char_p),
        ("sdp_mline_index", c_int),
        ("username_fragment", c_char_p),
    ]


class OfferOptions(Structure):
    _fields_ = [("struct_size", c_uint32), ("ice_restart", c_int)]


class DcInit(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("ordered", c_int),
        ("max_packet_life_time", c_int32),
        ("max_retransmits", c_int32),
        ("protocol", c_char_p),
        ("negotiated", c_int),
        ("id", c_int32),
        ("priority", c_int),
    ]


class TrackInit(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("direction", c_int),
        ("codecs", POINTER(c_int)),
        ("n_codecs", c_size_t),
        ("stream_id", c_char_p),
        ("track_id", c_char_p),
        ("ssrc", c_uint32),
        ("rtcp_feedback", c_int),
    ]


class CodecParams(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("codec", c_int),
        ("payload_type", c_uint8),
        ("clock_rate", c_uint32),
        ("channels", c_uint8),
    ]


class FrameInfo(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("flags", c_uint32),
        ("has_rtp_timestamp", c_int),
        ("rtp_timestamp", c_uint32),
        ("pts_us", c_int64),
        ("codec", c_int),
    ]


TRACK_STATS_COUNTERS = (
    "packets_sent",
    "bytes_sent",
    "frames_sent",
    "packets_received",
    "bytes_received",
    "frames_received",
    "frames_dropped",
    "packets_lost",
    "nacks_sent",
    "nacks_received",
    "retransmitted",
    "plis_sent",
    "plis_received",
    "srtp_failures",
)


# Counters appended after rtt_us (weft_track_stats grows at its end).
TRACK_STATS_LATER_COUNTERS = ("rtx_dropped", "keyframe_requests_throttled", "events_dropped")


class TrackStatsStruct(Structure):
    _fields_ = (
        [("struct_size", c_uint32)]
        + [(name, c_uint64) for name in TRACK_STATS_COUNTERS]
        + [("rtt_us", c_int64)]
        + [(name, c_uint64) for name in TRACK_STATS_LATER_COUNTERS]
    )


# ----- Callback types -------------------------------------------------------
# Enums travel as c_int; borrowed objects as c_void_p (an int or None).

ICE_CANDIDATE_FN = CFUNCTYPE(None, c_void_p, POINTER(IceCandidateStruct), c_void_p)
PC_STATE_FN = CFUNCTYPE(None, c_void_p, c_int, c_void_p)
PC_EVENT_FN = CFUNCTYPE(None, c_void_p, c_void_p)
PC_DATA_CHANNEL_FN = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
ERROR_FN = CFUNCTYPE(None, c_void_p, POINTER(ErrorInfoStruct), c_void_p)
DC_EVENT_FN = CFUNCTYPE(None, c_void_p, c_void_p)
DC_MESSAGE_FN = CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_size_t, c_void_p)
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_char_p, c_void_p)
DESTROY_FN = CFUNCTYPE(None, c_void_p)
PC_TRACK_FN = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
TRACK_PACKET_FN = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, c_void_p)
TRACK_FRAME_FN = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, POINTER(FrameInfo), c_void_p)
TRACK_EVENT_FN = CFUNCTYPE(None, c_void_p, c_void_p)


DECLARED: set = set()  # every function given a prototype (tests compare it with weft.h)


def _decl(name: str, restype, *argtypes) -> None:
    DECLARED.add(name)
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


VP = c_void_p
PVP = POINTER(c_void_p)

# Errors
_decl("weft_strerror", c_char_p, c_int)
_decl("weft_err_name", c_char_p, c_int)
_decl("weft_err_dom_name", c_char_p, c_int)
_decl("weft_last_error", c_int)
_decl("weft_last_error_message", c_char_p)
_decl("weft_error_detail_to_string", c_char_p, c_int)
# Memory, version, logging
_decl("weft_free", None, VP)
_decl("weft_version", c_uint)
_decl("weft_version_string", c_char_p)
_decl("weft_build_info", c_char_p)
_decl("weft_set_log_handler", None, LOG_FN, VP)
_decl("weft_set_log_level", None, c_int)
_decl("weft_set_log_spec", c_int, c_char_p)
# Context
_decl("weft_context_new", VP, POINTER(ContextOptions))
_decl("weft_context_ref", VP, VP)
_decl("weft_context_unref", None, VP)
_decl("weft_context_is_current", c_int, VP)
_decl("weft_context_get_fd", c_int, VP)
_decl("weft_context_dispatch", c_int, VP, c_int)
_decl("weft_context_wait", c_int, VP, c_int)
_decl("weft_context_new_for_main_context", VP, VP)
_decl("weft_context_get_main_context", VP, VP)
# Configuration
_decl("weft_config_new", VP)
_decl("weft_config_copy", VP, VP)
_decl("weft_config_free", None, VP)
_decl("weft_config_add_ice_server", c_int, VP, c_char_p, c_char_p, c_char_p)
_decl("weft_config_set_ice_transport_policy", c_int, VP, c_int)
_decl("weft_config_set_port_range", c_int, VP, c_uint16, c_uint16)
_decl("weft_config_set_max_message_size", c_int, VP, c_size_t)
_decl("weft_config_set_send_buffer_limit", c_int, VP, c_size_t)
_decl("weft_config_set_receive_buffer_limit", c_int, VP, c_size_t)
_decl("weft_config_set_enable_loopback", c_int, VP, c_int)
_decl("weft_config_set_ice_tcp", c_int, VP, c_int)
_decl("weft_config_set_certificate_reuse", c_int, VP, c_int)
_decl("weft_config_set_certificate_type", c_int, VP, c_int)
_decl("weft_turn_rest_credentials", c_int, c_char_p, c_char_p, c_uint32, PVP, PVP)
# Peer connection
_decl("weft_pc_state_to_string", c_char_p, c_int)
_decl("weft_ice_connection_state_to_string", c_char_p, c_int)
_decl("weft_ice_gathering_state_to_string", c_char_p, c_int)
_decl("weft_signaling_state_to_string", c_char_p, c_int)
_decl("weft_sdp_type_to_string", c_char_p, c_int)
_decl("weft_sdp_type_from_string", c_int, c_char_p)
_decl("weft_pc_new", VP, VP, VP)
_decl("weft_pc_ref", VP, VP)
_decl("weft_pc_unref", None, VP)
_decl("weft_pc_close", c_int, VP)
_decl("weft_pc_set_user_data", c_int, VP, VP, DESTROY_FN)
_decl("weft_pc_get_user_data", VP, VP)
_decl("weft_pc_set_on_ice_candidate", c_int, VP, ICE_CANDIDATE_FN)
_decl("weft_pc_set_on_connection_state_change", c_int, VP, PC_STATE_FN)
_decl("weft_pc_set_on_ice_connection_state_change", c_int, VP, PC_STATE_FN)
_decl("weft_pc_set_on_ice_gathering_state_change", c_int, VP, PC_STATE_FN)
_decl("weft_pc_set_on_signaling_state_change", c_int, VP, PC_STATE_FN)
_decl("weft_pc_set_on_negotiation_needed", c_int, VP, PC_EVENT_FN)
_decl("weft_pc_set_on_data_channel", c_int, VP, PC_DATA_CHANNEL_FN)
_decl("weft_pc_set_on_error", c_int, VP, ERROR_FN)
_decl("weft_pc_set_on_track", c_int, VP, PC_TRACK_FN)
_decl("weft_pc_create_offer", c_int, VP, POINTER(OfferOptions), PVP)
_decl("weft_pc_create_answer", c_int, VP, PVP)
_decl("weft_pc_set_local_description", c_int, VP, c_int, c_char_p)
_decl("weft_pc_set_remote_description", c_int, VP, c_int, c_char_p)
_decl("weft_pc_add_ice_candidate", c_int, VP, POINTER(IceCandidateStruct))
_decl("weft_pc_get_description", c_int, VP, c_int, POINTER(c_int), PVP)
_decl("weft_pc_get_connection_state", c_int, VP)
_decl("weft_pc_get_ice_connection_state", c_int, VP)
_decl("weft_pc_get_ice_gathering_state", c_int, VP)
_decl("weft_pc_get_signaling_state", c_int, VP)
_decl("weft_pc_get_selected_candidate_pair", c_int, VP, PVP, PVP)
_decl("weft_pc_restart_ice", c_int, VP)
_decl("weft_pc_get_local_fingerprint", c_int, VP, PVP)
_decl("weft_pc_get_max_message_size", c_int, VP, POINTER(c_size_t))
# Data channel
_decl("weft_pc_create_data_channel", VP, VP, c_char_p, POINTER(DcInit))
_decl("weft_dc_ref", VP, VP)
_decl("weft_dc_unref", None, VP)
_decl("weft_dc_close", c_int, VP)
_decl("weft_dc_set_user_data", c_int, VP, VP, DESTROY_FN)
_decl("weft_dc_get_user_data", VP, VP)
_decl("weft_dc_set_on_open", c_int, VP, DC_EVENT_FN)
_decl("weft_dc_set_on_message", c_int, VP, DC_MESSAGE_FN)
_decl("weft_dc_set_on_closing", c_int, VP, DC_EVENT_FN)
_decl("weft_dc_set_on_close", c_int, VP, DC_EVENT_FN)
_decl("weft_dc_set_on_error", c_int, VP, ERROR_FN)
_decl("weft_dc_set_on_buffered_amount_low", c_int, VP, DC_EVENT_FN)
_decl("weft_dc_send", c_int, VP, c_char_p, c_size_t)
_decl("weft_dc_send_text", c_int, VP, c_char_p, c_size_t)
# Declared for completeness; unused: a Python buffer cannot be handed over
# to C ownership, so send() lets weft copy it instead.
_decl("weft_dc_send_owned", c_int, VP, c_int, VP, c_size_t, DESTROY_FN)
_decl("weft_dc_get_label", c_char_p, VP)
_decl("weft_dc_get_protocol", c_char_p, VP)
_decl("weft_dc_get_id", c_int32, VP)
_decl("weft_dc_get_ordered", c_int, VP)
_decl("weft_dc_get_negotiated", c_int, VP)
_decl("weft_dc_get_max_retransmits", c_int32, VP)
_decl("weft_dc_get_max_packet_life_time", c_int32, VP)
_decl("weft_dc_get_ready_state", c_int, VP)
_decl("weft_dc_get_buffered_amount", c_size_t, VP)
_decl("weft_dc_get_buffered_amount_low_threshold", c_size_t, VP)
_decl("weft_dc_set_buffered_amount_low_threshold", c_int, VP, c_size_t)
_decl("weft_dc_state_to_string", c_char_p, c_int)
# Media: tracks
_decl("weft_pc_add_track", VP, VP, c_int, POINTER(TrackInit))
_decl("weft_track_ref", VP, VP)
_decl("weft_track_unref", None, VP)
_decl("weft_track_stop", c_int, VP)
_decl("weft_track_set_user_data", c_int, VP, VP, DESTROY_FN)
_decl("weft_track_get_user_data", VP, VP)
_decl("weft_track_get_kind", c_int, VP)
_decl("weft_track_get_mid", c_int, VP, PVP)
_decl("weft_track_set_direction", c_int, VP, c_int)
_decl("weft_track_get_direction", c_int, VP)
_decl("weft_track_get_current_direction", c_int, VP)
_decl("weft_track_get_send_codec", c_int, VP, POINTER(CodecParams))
_decl("weft_track_get_stats", c_int, VP, POINTER(TrackStatsStruct))
_decl("weft_track_send_frame", c_int, VP, c_char_p, c_size_t, POINTER(FrameInfo))
_decl("weft_track_send_rtp", c_int, VP, c_char_p, c_size_t, c_uint32)
_decl("weft_track_send_rtcp", c_int, VP, c_char_p, c_size_t)
_decl("weft_track_request_keyframe", c_int, VP)
_decl("weft_track_set_on_rtp", c_int, VP, TRACK_PACKET_FN)
_decl("weft_track_set_on_rtcp", c_int, VP, TRACK_PACKET_FN)
_decl("weft_track_set_on_frame", c_int, VP, TRACK_FRAME_FN)
_decl("weft_track_set_on_keyframe_request", c_int, VP, TRACK_EVENT_FN)
_decl("weft_codec_to_string", c_char_p, c_int)
_decl("weft_direction_to_string", c_char_p, c_int)
# Diagnostics
_decl("weft_debug_live_objects", c_long)

# A NULL function pointer of the destroy type (user data needs no destroy:
# the binding's tokens are plain integers).
NO_DESTROY = DESTROY_FN()


def take_string(p: Optional[int]) -> Optional[str]:
    """Copies a library-allocated C string and frees it with weft_free()."""
    if not p:
        return None
    try:
        return ctypes.string_at(p).decode("utf-8")
    finally:
        lib.weft_free(p)


def cstr(b: Optional[bytes]) -> str:
    """Decodes a static/borrowed C string (c_char_p result)."""
    return b.decode("utf-8", "replace") if b is not None else ""
