"""The Python enums and plain types mirror the C API."""

from __future__ import annotations

import pytest

import weft
from weft._lib import cstr, lib


@pytest.mark.parametrize(
    "enum,to_string",
    [
        (weft.PeerConnectionState, lib.weft_pc_state_to_string),
        (weft.IceConnectionState, lib.weft_ice_connection_state_to_string),
        (weft.IceGatheringState, lib.weft_ice_gathering_state_to_string),
        (weft.SignalingState, lib.weft_signaling_state_to_string),
        (weft.SdpType, lib.weft_sdp_type_to_string),
        (weft.DataChannelState, lib.weft_dc_state_to_string),
        (weft.ErrorDetail, lib.weft_error_detail_to_string),
    ],
)
def test_enums_match_c_strings(enum, to_string) -> None:
    for member in enum:
        c = cstr(to_string(int(member)))
        if member.name in ("UNSPEC", "NONE"):
            continue  # "" in C
        assert str(member) == c, (member, c)


def test_error_classes_cover_every_code() -> None:
    for code in range(-1, -16, -1):
        name = cstr(lib.weft_err_name(code))
        e = weft._errors.error_for(code, "m")
        assert e.name == name and type(e) is not weft.WeftError, name
        assert e.code == code and e.message == "m"


def test_session_description_types() -> None:
    d = weft.SessionDescription("answer", "v=0")
    assert d.type is weft.SdpType.ANSWER
    assert weft.SessionDescription(weft.SdpType.OFFER, "").type == weft.SdpType.OFFER
    with pytest.raises(ValueError):
        weft.SessionDescription("bogus", "")


def test_version_and_objects() -> None:
    assert weft.version() == weft.__version__
    assert "libnice" in weft.build_info()
    with pytest.raises(TypeError):
        weft.DataChannel()
    cfg = weft.Configuration(enable_loopback=True, max_message_size=1000, port_range=(0, 0),
                             ice_servers=["stun:127.0.0.1:3478"])
    assert cfg.enable_loopback and cfg.max_message_size == 1000
    ctx = weft.Context(weft.ContextMode.QUEUED)
    pc = weft.PeerConnection(ctx, cfg)
    with pytest.raises(TypeError):
        pc.on_data_channel = 42
    assert pc.connection_state is weft.PeerConnectionState.NEW
    assert pc.local_description is None and pc.selected_candidate_pair is None
    assert pc.max_message_size == 0
    ch = pc.create_data_channel("c", protocol="p", priority=weft.Priority.HIGH)
    assert (ch.label, ch.protocol, ch.peer_connection) == ("c", "p", pc)
    assert ch.buffered_amount == 0
    ch.buffered_amount_low_threshold = 1024
    assert ch.buffered_amount_low_threshold == 1024
    assert "c" in repr(ch) and "new" in repr(pc)
    with pc:
        pass
    assert pc.closed and pc.signaling_state == weft.SignalingState.CLOSED
    with pytest.raises(weft.ClosedError):
        _ = pc.handle
    ctx.close()


def test_every_public_function_has_a_prototype() -> None:
    """ctypes without argtypes/restype truncates pointers and size_t: every
    WEFT_API function of the public headers must be declared, and nothing
    else (a stale name would fail at import, a missing one silently)."""
    import pathlib
    import re

    from weft._lib import DECLARED

    include = pathlib.Path(__file__).resolve().parents[3] / "include" / "weft"
    public = set()
    for header in include.glob("*.h"):
        public |= set(re.findall(r"WEFT_API\s+[^;(]*?\b(weft_\w+)\s*\(", header.read_text()))
    assert public, "no WEFT_API declaration found under %s" % include
    assert public - DECLARED == set(), "without a ctypes prototype"
    assert DECLARED - public == set(), "declared but not public"

