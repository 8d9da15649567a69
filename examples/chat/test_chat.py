#!/usr/bin/python3
"""Three weft chat peers in one room of the real signaling-server
(doc/rooms.md): every message reaches every other peer exactly once, EOF on
stdin leaves and exits 0, and a rogue room client sending malformed
signaling (garbage SDP, unsolicited answers, broken candidates) crashes
nobody, and a failed connection is offered again.

usage: test_chat.py CHAT SIGNALING_SERVER
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from roomtest import WS, check, run  # noqa: E402

CHAT, SERVER = sys.argv[1], sys.argv[2]
TEXTS = ["hello", "ünïcödé ✓ 日本", 'quotes " and \\ backslash {"type":"chat"}']


def chat_proc(procs, srv, room, peer, name):
    return procs.start(peer, [CHAT, "--url", srv.url, "--room", room, "--peer", peer,
                              "--name", name], stdin=True)


def wait_open(p, others):
    want = set(others)
    while want:
        ev = p.wait_event(lambda e: e.get("ev") == "open", 20, f"open with {sorted(want)}")
        want.discard(ev["peer"])


def collect_chats(p, n, timeout):
    got = []
    while len(got) < n:
        ev = p.wait_event(lambda e: e.get("ev") == "chat", timeout, f"chat message {len(got) + 1}/{n}")
        got.append((ev["from"], ev["name"], ev["text"]))
    return got


def mesh(procs, srv):
    room = "chat-mesh"
    peers = {"alice": "Alice", "bob": "Bob ♪", "carol": "Carol"}
    ps = {}
    for pid, name in peers.items():
        ps[pid] = chat_proc(procs, srv, room, pid, name)
        ps[pid].wait_event(lambda e: e.get("ev") == "joined", 10, "joined")
    for pid, p in ps.items():
        wait_open(p, [q for q in peers if q != pid])
    t0 = time.monotonic()
    for pid, p in ps.items():
        for t in TEXTS:
            p.send_line(f"{pid}: {t}")
    for pid, p in ps.items():
        got = collect_chats(p, 2 * len(TEXTS), 15)
        want = [(q, peers[q], f"{q}: {t}") for q in peers if q != pid for t in TEXTS]
        check(sorted(got) == sorted(want), f"{pid} got {got}, want {want}")
        # Per sender, in order (one ordered channel per pair).
        for q in peers:
            seq = [g[2] for g in got if g[0] == q]
            check(seq == [w[2] for w in want if w[0] == q], f"{pid}: {q}'s messages out of order")
    print(f"9 peer pairs x 3 messages delivered in {time.monotonic() - t0:.3f} s")
    time.sleep(1.0)  # anything extra (a duplicate) would show up by now
    for pid, p in ps.items():
        n = sum(1 for e in p.events if e.get("ev") == "chat")
        check(n == 2 * len(TEXTS), f"{pid}: {n} chat events, want {2 * len(TEXTS)} (duplicates?)")
    # EOF: alice leaves; the others see her go and carry on.
    ps["alice"].close_stdin()
    check(ps["alice"].wait_exit(10) == 0, "alice: exit code after EOF")
    for pid in ("bob", "carol"):
        ps[pid].wait_event(lambda e: e.get("ev") == "peer-left" and e.get("peer") == "alice", 10,
                           "alice's peer-left")
    ps["bob"].send_line("still here")
    ev = ps["carol"].wait_event(lambda e: e.get("ev") == "chat", 10, "bob's message after alice left")
    check(ev["text"] == "still here" and ev["from"] == "bob", f"unexpected {ev}")
    for pid in ("bob", "carol"):
        ps[pid].close_stdin()
        check(ps[pid].wait_exit(10) == 0, f"{pid}: exit code after EOF")


def rogue(procs, srv):
    """A room client that speaks the server protocol but sends nonsense to a
    chat peer; the chat peers must survive and still talk to each other."""
    room = "chat-rogue"
    ws = WS(srv.port)
    ws.send({"type": "join", "room": room, "peer": "rogue", "name": "rogue"})
    ws.recv_until(lambda m: m.get("type") == "joined")
    a = chat_proc(procs, srv, room, "a", "A")
    # a joins after us, so it offers to us: answer with garbage, then more.
    offer = ws.recv_until(lambda m: m.get("type") == "offer" and m.get("from") == "a")
    bad = [
        {"type": "answer", "to": "a", "sdp": "v=0\r\ngarbage\r\n"},
        {"type": "answer", "to": "a", "sdp": 42},
        {"type": "candidate", "to": "a", "candidate": "candidate:garbage", "sdpMid": "0",
         "sdpMLineIndex": 0},
        {"type": "candidate", "to": "a", "candidate": 7, "sdpMid": [], "sdpMLineIndex": "x"},
        {"type": "candidate", "to": "a", "candidate": None},
        {"type": "offer", "to": "a"},
        {"type": "offer", "to": "a", "sdp": None},
        {"type": "offer", "to": "a", "sdp": "\u0000\u0001" * 100},
        {"type": "offer", "to": "a", "sdp": "v=0\r\n" + "a=x\r\n" * 3000},
        # Its own offer mirrored back: valid SDP, an unusable peer.
        {"type": "offer", "to": "a", "sdp": offer["sdp"]},
        {"type": "candidate", "to": "a", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
         "sdpMid": "nope", "sdpMLineIndex": 99},
        {"type": "candidate", "to": "a", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
         "sdpMLineIndex": -5},
        {"type": "answer", "to": "a", "sdp": offer["sdp"]},
        {"type": "bye", "to": "a"},
        {"type": "bye", "to": "a"},
        {"type": "answer", "to": "a", "sdp": "v=0\r\n"},
    ]
    for m in bad:
        ws.send(m)
    b = chat_proc(procs, srv, room, "b", "B")
    wait_open(a, ["b"])
    wait_open(b, ["a"])
    for m in bad:
        ws.send(m)
    a.send_line("after the storm")
    ev = b.wait_event(lambda e: e.get("ev") == "chat", 10, "a's message")
    check(ev["text"] == "after the storm", f"unexpected {ev}")
    b.send_line("ok")
    ev = a.wait_event(lambda e: e.get("ev") == "chat", 10, "b's message")
    check(ev["text"] == "ok", f"unexpected {ev}")
    ws.close()
    for p in (a, b):
        check(p.proc.poll() is None, f"{p.name} died")
        p.close_stdin()
        check(p.wait_exit(10) == 0, f"{p.name}: exit code after EOF")


def reoffer(procs, srv):
    """A connection that fails (the rogue answers, but its only candidate
    goes nowhere) is offered again by the chat peer that offered it: bye,
    then a new offer, at most twice."""
    ws = WS(srv.port)
    ws.send({"type": "join", "room": "chat-reoffer", "peer": "rogue", "name": "rogue"})
    ws.recv_until(lambda m: m.get("type") == "joined")
    a = chat_proc(procs, srv, "chat-reoffer", "a", "A")
    for attempt in range(2):
        offer = ws.recv_until(lambda m: m.get("type") == "offer", timeout=30)
        ws.send({"type": "answer", "to": "a",
                 "sdp": offer["sdp"].replace("a=setup:actpass", "a=setup:active")})
        ws.send({"type": "candidate", "to": "a", "sdpMid": "0", "sdpMLineIndex": 0,
                 "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"})
        ws.send({"type": "candidate", "to": "a", "candidate": None})
        if attempt == 0:
            ws.recv_until(lambda m: m.get("type") == "bye", timeout=30)
    ws.close()
    check(any("offering to rogue again" in line for line in a.err), "no re-offer reported")
    a.close_stdin()
    check(a.wait_exit(10) == 0, "a: exit code after EOF")


def bad_command_lines(procs, srv):
    for argv in ([], ["--url", srv.url], ["--url", "http://x/", "--room", "r"],
                 ["--url", srv.url, "--room", "bad room"], ["--url", srv.url, "--room", "r",
                                                            "--peer", "x" * 65]):
        p = procs.start("chat-bad", [CHAT] + argv, stdin=True)
        check(p.wait_exit(10) == 2, f"chat {argv}: want exit 2")
    # Nothing listening: exit 1.
    p = procs.start("chat-noserver", [CHAT, "--url", "ws://127.0.0.1:1/ws", "--room", "r"],
                    stdin=True)
    check(p.wait_exit(10) == 1, "no server: want exit 1")


def main(procs):
    srv = procs.server(SERVER)
    mesh(procs, srv)
    rogue(procs, srv)
    reoffer(procs, srv)
    bad_command_lines(procs, srv)


if __name__ == "__main__":
    sys.exit(run(main))
