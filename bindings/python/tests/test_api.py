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
    assert not cfg.ice_tcp  # off by default
    cfg.ice_tcp = True
    assert cfg.ice_tcp and weft.Configuration(ice_tcp=True).ice_tcp
    cfg.ice_tcp = False
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



def _header_text() -> str:
    import pathlib
    import re

    include = pathlib.Path(__file__).resolve().parents[3] / "include" / "weft"
    text = "\n".join(h.read_text() for h in sorted(include.glob("*.h")))
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


class _CTypes:
    """Maps the C types of weft's headers to what the binding must use."""

    def __init__(self, text: str) -> None:
        import ctypes
        import re

        from weft import _lib

        self.ct = ctypes
        self.enums = set(re.findall(r"typedef\s+enum\s+\w*\s*\{[^}]*\}\s*(\w+)\s*;", text))
        self.fnptrs = {
            name: args
            for ret, name, args in re.findall(
                r"typedef\s+(void)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;", text
            )
        }
        self.structs = {
            name: body
            for name, body in re.findall(r"typedef\s+struct\s+(\w+)\s*\{([^}]*)\}\s*\1\s*;", text)
        }
        # Which ctypes Structure mirrors which C struct.
        self.struct_class = {
            "weft_context_options": _lib.ContextOptions,
            "weft_error_info": _lib.ErrorInfoStruct,
            "weft_ice_candidate": _lib.IceCandidateStruct,
            "weft_offer_options": _lib.OfferOptions,
            "weft_dc_init": _lib.DcInit,
            "weft_track_init": _lib.TrackInit,
            "weft_codec_params": _lib.CodecParams,
            "weft_frame_info": _lib.FrameInfo,
            "weft_track_stats": _lib.TrackStatsStruct,
        }
        c = ctypes
        self.scalars = {
            "int": c.c_int, "unsigned": c.c_uint, "long": c.c_long, "size_t": c.c_size_t,
            "uint8_t": c.c_uint8, "uint16_t": c.c_uint16, "uint32_t": c.c_uint32,
            "uint64_t": c.c_uint64, "int32_t": c.c_int32, "int64_t": c.c_int64,
        }

    def check(self, ctype: str, got: object, where: str) -> None:
        """Asserts that ctypes type @got matches the C type spelled @ctype."""
        import re

        c = self.ct
        t = re.sub(r"\bconst\b", " ", ctype)
        t = re.sub(r"\s+", " ", t).strip()
        stars = t.count("*")
        base = t.replace("*", "").strip()
        if stars == 0:
            if base == "void":
                assert got is None, where
            elif base in self.scalars:
                assert got is self.scalars[base], (where, ctype, got)
            elif base in self.enums:
                assert got is c.c_int, (where, ctype, got)
            elif base in self.fnptrs:
                self.check_fn(base, got, where)
            else:
                raise AssertionError(f"{where}: unknown C type {ctype!r}")
            return
        if stars == 2:  # char **: an out-string, kept as a raw pointer
            assert base == "char" and got == c.POINTER(c.c_void_p), (where, ctype, got)
            return
        if base == "char":
            assert got is c.c_char_p, (where, ctype, got)
        elif base in ("void", "uint8_t"):  # data buffers: bytes or a raw address
            assert got in (c.c_void_p, c.c_char_p), (where, ctype, got)
        elif base in self.struct_class:
            assert got == c.POINTER(self.struct_class[base]), (where, ctype, got)
        elif base in self.scalars or base in self.enums:
            want = self.scalars.get(base, c.c_int)
            assert got == c.POINTER(want), (where, ctype, got)
        else:  # opaque objects (weft_pc, GMainContext...)
            assert got is c.c_void_p, (where, ctype, got)

    def check_fn(self, typedef: str, got: object, where: str) -> None:
        args = [a for a in split_params(self.fnptrs[typedef])]
        got_args = getattr(got, "_argtypes_", None)
        assert got_args is not None, f"{where}: {typedef} needs a CFUNCTYPE"
        assert getattr(got, "_restype_", None) is None, where
        assert len(got_args) == len(args), (where, typedef)
        for (ctype, _), g in zip(args, got_args):
            # Inside callbacks every pointer but structs travels as c_void_p.
            self.check(ctype, g, f"{where} -> {typedef}")

    def check_struct(self, name: str) -> None:
        import re

        cls = self.struct_class[name]
        fields = []
        for decl in self.structs[name].split(";"):
            decl = re.sub(r"\s+", " ", decl).strip()
            if not decl:
                continue
            m = re.match(r"((?:const )?\w+(?: \*+| )?)\s*(\**)(\w+(?:\s*,\s*\**\w+)*)$", decl)
            assert m, f"{name}: cannot parse {decl!r}"
            for var in m.group(3).split(","):
                var = var.strip()
                ptr = m.group(2) + "*" * var.count("*")
                fields.append((m.group(1).strip() + ptr, var.strip("* ")))
        assert [f[0] for f in cls._fields_] == [n for _, n in fields], name
        for (ctype, fname), (_, got) in zip(fields, cls._fields_):
            self.check(ctype, got, f"{name}.{fname}")


def split_params(params: str) -> list:
    """[(type, name)] of a C parameter list ("void" = none). Function
    pointer parameters ("void (*destroy)(void *)") become "fn:<args>"."""
    import re

    params = params.strip()
    if params in ("", "void"):
        return []
    out = []
    for p in re.split(r",(?![^(]*\))", params):
        p = re.sub(r"\s+", " ", p).strip()
        m = re.match(r"void \(\*(\w+)\)\((.*)\)$", p)
        if m:
            out.append(("fn:" + m.group(2), m.group(1)))
            continue
        m = re.match(r"(.*?)(\w+)$", p)
        assert m, p
        out.append((m.group(1).strip(), m.group(2)))
    return out


def test_prototypes_match_the_headers_exactly() -> None:
    """Every WEFT_API prototype, parameter by parameter, and every public
    struct, field by field, against the ctypes declarations: a wrong width
    (int vs size_t), a missing pointer or a field out of order would
    otherwise corrupt memory silently."""
    import re

    from weft._lib import DESTROY_FN, lib

    text = _header_text()
    types = _CTypes(text)
    protos = re.findall(r"WEFT_API\s+([^;(]*?)\b(weft_\w+)\s*\(([^;]*?)\)\s*;", text)
    assert len(protos) > 100
    for ret, name, params in protos:
        fn = getattr(lib, name)
        types.check(ret.strip(), fn.restype, f"{name} (return)")
        args = split_params(params)
        assert len(fn.argtypes) == len(args), (name, args, fn.argtypes)
        for (ctype, pname), got in zip(args, fn.argtypes):
            if ctype.startswith("fn:"):
                # void (*destroy)(void *[name]): the user-data destructor.
                inner = re.sub(r"\s*\w+$", "", ctype[3:].replace("*", "* ")).replace(" ", "")
                assert inner == "void*" and got is DESTROY_FN, (name, pname, ctype)
            else:
                types.check(ctype, got, f"{name}({pname})")
    for struct in types.structs:
        types.check_struct(struct)
