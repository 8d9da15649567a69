"""Failing calls raise WeftError subclasses carrying weft's error name and
detail message, read on the calling thread right after the call."""

from __future__ import annotations

import threading

import pytest
from conftest import loopback_config

import weft


@pytest.fixture()
def pc():
    ctx = weft.Context(weft.ContextMode.QUEUED)
    p = weft.PeerConnection(ctx, loopback_config())
    yield p
    p.close()
    ctx.close()


def good_offer() -> str:
    ctx = weft.Context(weft.ContextMode.QUEUED)
    p = weft.PeerConnection(ctx, loopback_config())
    p.create_data_channel("x")
    sdp = p.create_offer().sdp
    p.close()
    ctx.close()
    return sdp


@pytest.mark.parametrize("bad_line_no", [2, 5, 9])
def test_bad_sdp_names_error_and_line(pc, bad_line_no: int) -> None:
    lines = good_offer().split("\r\n")
    lines.insert(bad_line_no - 1, "this is not an sdp line")
    with pytest.raises(weft.WeftError) as ei:
        pc.set_remote_description(weft.SessionDescription("offer", "\r\n".join(lines)))
    e = ei.value
    assert isinstance(e, weft.WeftSyntaxError) and isinstance(e, ValueError)
    assert e.name == "WEFT_ERR_SYNTAX"
    assert e.code == -5
    assert e.dom_name == "SyntaxError"
    assert f"line {bad_line_no}" in e.message, e.message
    assert str(e).startswith("WEFT_ERR_SYNTAX: ")
    assert pc.signaling_state == weft.SignalingState.STABLE


def test_garbage_sdp(pc) -> None:
    with pytest.raises(weft.WeftSyntaxError) as ei:
        pc.set_remote_description(weft.SessionDescription("offer", "garbage"))
    assert ei.value.name == "WEFT_ERR_SYNTAX"
    assert "line 1" in ei.value.message


def test_wrong_state(pc) -> None:
    with pytest.raises(weft.InvalidStateError) as ei:
        pc.set_remote_description(weft.SessionDescription("answer", good_offer()))
    assert ei.value.name == "WEFT_ERR_INVALID_STATE"
    with pytest.raises(weft.InvalidStateError) as ei:
        pc.create_answer()
    assert ei.value.name == "WEFT_ERR_INVALID_STATE"
    with pytest.raises(weft.InvalidStateError):
        pc.add_ice_candidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host")


def test_missing_ice_credentials(pc) -> None:
    sdp = "\r\n".join(
        line for line in good_offer().split("\r\n") if not line.startswith("a=ice-")
    )
    with pytest.raises(weft.WeftError) as ei:
        pc.set_remote_description(weft.SessionDescription("offer", sdp))
    assert ei.value.name == "WEFT_ERR_INVALID_ACCESS"
    assert isinstance(ei.value, weft.InvalidAccessError)


def test_bad_candidate(pc) -> None:
    pc.set_remote_description(weft.SessionDescription("offer", good_offer()))
    with pytest.raises(weft.WeftSyntaxError) as ei:
        pc.add_ice_candidate(weft.IceCandidate("candidate:garbage", sdp_mid="0"))
    assert ei.value.name == "WEFT_ERR_SYNTAX"


def test_configuration_errors() -> None:
    cfg = weft.Configuration()
    with pytest.raises(weft.WeftSyntaxError) as ei:
        cfg.add_ice_server("http://example.invalid")
    assert ei.value.name == "WEFT_ERR_SYNTAX"
    with pytest.raises(weft.InvalidAccessError) as ei2:
        cfg.add_ice_server("turn:127.0.0.1:3478")
    assert ei2.value.name == "WEFT_ERR_INVALID_ACCESS"
    with pytest.raises(weft.NotSupportedError):
        cfg.add_ice_server("turns:127.0.0.1:5349", "u", "p")
    with pytest.raises(weft.RangeError):
        cfg.port_range = (6000, 5000)
    cfg.add_ice_server(weft.IceServer(["stun:127.0.0.1:3478", "stun:127.0.0.1"]))
    assert len(cfg.ice_servers) == 1
    with pytest.raises(weft.WeftSyntaxError):
        weft.set_log_spec("ice:loud")


def test_channel_errors(pc) -> None:
    with pytest.raises(weft.InvalidArgumentError) as ei:
        pc.create_data_channel("n", negotiated=True)
    assert ei.value.name == "WEFT_ERR_INVALID_ARG"
    with pytest.raises(weft.RangeError):
        pc.create_data_channel("n", negotiated=True, id=5000)
    with pytest.raises(weft.InvalidArgumentError):
        pc.create_data_channel("n", max_retransmits=1, max_packet_life_time=100)
    ch = pc.create_data_channel("ok")
    assert ch.ready_state == weft.DataChannelState.CONNECTING
    with pytest.raises(weft.InvalidStateError) as ei:
        ch.send("not open yet")
    assert ei.value.name == "WEFT_ERR_INVALID_STATE"


def test_dispatch_on_thread_mode_context_fails() -> None:
    ctx = weft.Context(weft.ContextMode.THREAD)
    with pytest.raises(weft.InvalidStateError):
        ctx.dispatch()
    with pytest.raises(weft.InvalidStateError):
        _ = ctx.fd
    ctx.close()


def test_errors_are_per_thread(pc) -> None:
    """Two threads failing differently at once each see their own error."""
    results: dict = {}
    barrier = threading.Barrier(2)

    def syntax() -> None:
        barrier.wait()
        for _ in range(50):
            try:
                pc.set_remote_description(weft.SessionDescription("offer", "v=0\r\nzz"))
            except weft.WeftError as e:
                results.setdefault("syntax", set()).add(e.name)

    def state() -> None:
        barrier.wait()
        for _ in range(50):
            try:
                pc.create_answer()
            except weft.WeftError as e:
                results.setdefault("state", set()).add(e.name)

    ts = [threading.Thread(target=syntax), threading.Thread(target=state)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert results == {"syntax": {"WEFT_ERR_SYNTAX"}, "state": {"WEFT_ERR_INVALID_STATE"}}


def test_error_info_exception_mapping() -> None:
    info = weft.ErrorInfo(code=-11, name="WEFT_ERR_CLOSED", detail=weft.ErrorDetail.NONE,
                          message="gone")
    e = info.exception()
    assert isinstance(e, weft.ClosedError) and e.name == "WEFT_ERR_CLOSED"
    assert e.message == "gone"
