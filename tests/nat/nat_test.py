#!/usr/bin/python3
"""NAT traversal tests for weft (issue 7): real NATs, a real coturn.

usage: nat_test.py --peer PATH/nat_peer --scenario NAME [--timeout S] [--keep-logs]

The fixture builds network namespaces connected by veth pairs:

  pub      the "internet": 198.51.100.1 (on its lo) runs coturn
           (STUN + TURN, UDP and TCP on 3478); routes between the sites
  natN     a NAT box per site: WAN 203.0.113.(16N+2)/28 towards pub, LAN
           10.0.N.1/24 towards peerN, iptables MASQUERADE out of the WAN:
             cone       endpoint-independent mapping and filtering ("full
                        cone": MASQUERADE keeps the port, a DNAT sends every
                        inbound UDP datagram to the one LAN host)
             restricted MASQUERADE only (port-restricted cone)
             symmetric  MASQUERADE --random-fully (a new port per
                        destination: endpoint-dependent mapping)
  void     pub's default route: swallows datagrams to addresses that exist
           nowhere (the peers' private host candidates), as the internet does
  ta, tb   ICE-TCP scenarios only (no pub): two peers on one veth,
           10.77.0.1/24 and 10.77.0.2/24, iptables dropping all UDP on it
  peerN    one weft peer (nat_peer) behind natN at 10.0.N.2, or, for a
           "direct" site, on 203.0.113.(16N+2) with no NAT

No namespace has a link to the host's networks and nothing has a default
route out of them: the addresses exist only inside. Names carry the PID, so
runs can overlap; everything (namespaces, turnserver, peers) is removed on
every exit path. Root is required; without it the test FAILS.

Each scenario asserts on what the peers print (JSON lines, see nat_peer.c):
the selected candidate pair, every message delivered, states and times.
Exit 0 only if every check passed; a failure prints one FAIL line and the
logs.
"""

import argparse
import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SERVER_IP = "198.51.100.1"
TURN_USER, TURN_PASS = "weft", "nat-test-secret"
REST_SECRET = "rest-shared-secret-for-tests"
REALM = "weft.test"

T0 = time.monotonic()
PEERS = []


def log(msg):
    print(f"[{time.monotonic() - T0:7.3f}] {msg}", file=sys.stderr, flush=True)


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(cmd, timeout=10, check_rc=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       text=True)
    if check_rc and r.returncode != 0:
        raise Fail(f"command failed ({r.returncode}): {' '.join(cmd)}: {r.stderr.strip()}")
    return r


# ---------------------------------------------------------------------------------------
class Net:
    """Namespaces, links and NATs of one run; cleanup() undoes everything."""

    def __init__(self, tmp):
        self.tag = f"wn{os.getpid()}"
        self.namespaces = []
        self.procs = []  # (name, Popen)
        self.tmp = tmp

    def ns(self, short):
        name = f"{self.tag}-{short}"
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.sh(name, "ip", "link", "set", "lo", "up")
        # IPv4 only: link-local IPv6 addresses would only add candidates.
        self.sh(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.sh(name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        return name

    def sh(self, ns, *cmd, check_rc=True):
        return run(["ip", "netns", "exec", ns, *cmd], check_rc=check_rc)

    def veth(self, ns1, if1, addr1, ns2, if2, addr2):
        # Created inside ns1 with its peer moved straight into ns2: the
        # host's namespace never sees either end.
        run(["ip", "-n", ns1, "link", "add", if1, "type", "veth", "peer", "name", if2, "netns",
             ns2])
        for ns, ifn, addr in ((ns1, if1, addr1), (ns2, if2, addr2)):
            if addr:
                run(["ip", "-n", ns, "addr", "add", addr, "dev", ifn])
            run(["ip", "-n", ns, "link", "set", ifn, "up"])
        self.wait_carrier([(ns1, if1), (ns2, if2)])

    def wait_carrier(self, links, timeout=5.0):
        # A veth has no carrier for a moment after both ends are up, and
        # libnice skips interfaces that are not running when it gathers.
        deadline = time.monotonic() + timeout
        for ns, ifn in links:
            while True:
                out = run(["ip", "-n", ns, "-o", "link", "show", "dev", ifn]).stdout
                if "LOWER_UP" in out and "NO-CARRIER" not in out:
                    break
                if time.monotonic() > deadline:
                    raise Fail(f"{ns}/{ifn} has no carrier after {timeout} s: {out.strip()}")
                time.sleep(0.05)

    def build_pub(self):
        self.pub = self.ns("pub")
        # On lo (containers often lack the dummy link type): a local address
        # of pub, reached through pub's links like any routed address.
        run(["ip", "-n", self.pub, "addr", "add", f"{SERVER_IP}/32", "dev", "lo"])
        self.sh(self.pub, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # The internet loses datagrams to private addresses silently; without
        # a default route pub would answer ENETUNREACH, and coturn closes an
        # allocation whose relay socket gets that error (a relayed check to a
        # peer's 10.x host candidate would kill the allocation). So pub's
        # default route leads into "void", which forwards nothing.
        void = self.ns("void")
        self.veth(self.pub, "void", "203.0.113.253/30", void, "eth0", "203.0.113.254/30")
        run(["ip", "-n", self.pub, "route", "add", "default", "via", "203.0.113.254"])

    def site(self, n, kind):
        """kind: direct | cone | restricted | symmetric. Returns (peer ns, peer ip)."""
        pub_ip, wan_ip = f"203.0.113.{16 * n + 1}", f"203.0.113.{16 * n + 2}"
        peer = self.ns(f"peer{n}")
        if kind == "direct":
            self.veth(self.pub, f"wan{n}", f"{pub_ip}/28", peer, "eth0", f"{wan_ip}/28")
            run(["ip", "-n", peer, "route", "add", "default", "via", pub_ip])
            return peer, wan_ip
        nat = self.ns(f"nat{n}")
        self.veth(self.pub, f"wan{n}", f"{pub_ip}/28", nat, "wan", f"{wan_ip}/28")
        run(["ip", "-n", nat, "route", "add", "default", "via", pub_ip])
        self.sh(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        lan_ip = f"10.0.{n}.2"
        self.veth(nat, "lan", f"10.0.{n}.1/24", peer, "eth0", f"{lan_ip}/24")
        run(["ip", "-n", peer, "route", "add", "default", "via", f"10.0.{n}.1"])
        ipt = ["iptables", "-w", "5", "-t", "nat"]
        masq = ipt + ["-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"]
        if kind == "symmetric":
            masq += ["--random-fully"]
        self.sh(nat, *masq)
        if kind == "cone":
            self.sh(nat, *ipt, "-A", "PREROUTING", "-i", "wan", "-p", "udp", "-j", "DNAT",
                    "--to-destination", lan_ip)
        elif kind not in ("restricted", "symmetric"):
            raise ValueError(kind)
        self.nat_wan = getattr(self, "nat_wan", {})
        self.nat_wan[n] = wan_ip
        return peer, lan_ip

    def spawn(self, name, ns, cmd, stdin=True, stdout=subprocess.PIPE, stderr=None, env=None):
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd],
                             stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                             stdout=stdout, stderr=stderr, text=True, env=env,
                             start_new_session=True)
        self.procs.append((name, p))
        return p

    def kill(self, p, grace=3.0):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            except ProcessLookupError:
                pass

    def cleanup(self):
        for name, p in reversed(self.procs):
            try:
                self.kill(p)
            except Exception as e:  # keep tearing down
                log(f"cleanup: {name}: {e}")
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns], check_rc=False)
        self.namespaces = []


# ---------------------------------------------------------------------------------------
class Turn:
    """coturn in pub, bound to SERVER_IP only, logging to a file."""

    def __init__(self, net, rest=False):
        self.net = net
        self.log_path = os.path.join(net.tmp, "turnserver.log")
        pidfile = os.path.join(net.tmp, "turnserver.pid")
        args = ["turnserver", "-c", "/dev/null", "-n", "--no-cli", "--no-tls", "--no-dtls",
                "--listening-ip", SERVER_IP, "--relay-ip", SERVER_IP, "--listening-port", "3478",
                "--min-port", "40000", "--max-port", "40999", "--realm", REALM,
                "--fingerprint", "--verbose", "--simple-log", "--log-file", self.log_path,
                "--pidfile", pidfile, "--userdb", os.path.join(net.tmp, "turndb"),
                "--no-software-attribute", "--no-rfc5780"]
        if rest:
            args += ["--use-auth-secret", "--static-auth-secret", REST_SECRET]
        else:
            args += ["--lt-cred-mech", "--user", f"{TURN_USER}:{TURN_PASS}"]
        self.out = open(os.path.join(net.tmp, "turnserver.stdout"), "w")
        self.proc = net.spawn("turnserver", net.pub, args, stdin=False, stdout=self.out,
                              stderr=subprocess.STDOUT)
        # Ready once it answers a STUN binding request on UDP and accepts TCP.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            check(self.proc.poll() is None,
                  f"turnserver exited with {self.proc.returncode}: {self.logs()[-2000:]}")
            if self._probe():
                log("turnserver ready")
                return
            time.sleep(0.1)
        raise Fail("turnserver did not answer STUN within 10 s")

    def _probe(self):
        code = ("import socket,os,sys\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(0.2)\n"
                "t=os.urandom(12)\n"
                "s.sendto(b'\\x00\\x01\\x00\\x00\\x21\\x12\\xa4\\x42'+t,"
                f"('{SERVER_IP}',3478))\n"
                "try:\n d=s.recv(1500)\nexcept Exception: sys.exit(1)\n"
                "c=socket.create_connection(('" + SERVER_IP + "',3478),timeout=0.5);c.close()\n"
                "sys.exit(0 if d[8:20]==t else 1)\n")
        r = self.net.sh(self.net.pub, sys.executable, "-c", code, check_rc=False)
        return r.returncode == 0

    def logs(self):
        text = ""
        for p in (self.log_path, os.path.join(self.net.tmp, "turnserver.stdout")):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += f.read()
        return text


# ---------------------------------------------------------------------------------------
class Peer:
    """A nat_peer process: JSON lines out, commands in."""

    def __init__(self, net, name, ns, role, args, debug):
        self.name = name
        self.events = []
        self.q = queue.Queue()
        self.err_path = os.path.join(net.tmp, f"{name}.stderr")
        self.err = open(self.err_path, "w")
        env = dict(os.environ)
        env["WEFT_DEBUG"] = debug
        # NAT_TEST_WRAPPER="valgrind --error-exitcode=99 --leak-check=full"
        # runs the peers under a checker (a failure shows as an exit status).
        wrapper = os.environ.get("NAT_TEST_WRAPPER", "").split()
        self.proc = net.spawn(name, ns, [*wrapper, ARGS.peer, "--role", role, "--timeout",
                                         str(ARGS.timeout), *args],
                              stderr=self.err, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        PEERS.append(self)

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "garbage", "line": line}
            self.events.append(ev)
            self.q.put(ev)
        self.q.put({"ev": "eof"})

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise Fail(f"{self.name}: cannot write a command: {e}")

    def wait(self, pred, what, timeout):
        """Next event matching pred (earlier events that did not match are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail(f"{self.name}: no {what} within {timeout:.0f} s")
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if ev["ev"] == "fatal":
                raise Fail(f"{self.name}: {ev.get('message')}")
            if ev["ev"] == "eof":
                raise Fail(f"{self.name}: exited ({self.proc.wait(5)}) while waiting for {what}")
            if pred(ev):
                return ev

    def stderr_text(self):
        self.err.flush()
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def find(self, kind, **kv):
        return [e for e in self.events if e["ev"] == kind and
                all(e.get(k) == v for k, v in kv.items())]


def b64(s):
    return base64.b64encode(s.encode()).decode()


def parse_cand(c):
    """'candidate:f 1 udp prio addr port typ T ... [tcptype X] ...' -> dict."""
    t = c.split()
    tcptype = t[t.index("tcptype") + 1] if "tcptype" in t[8:] else None
    return {"address": t[4], "port": int(t[5]), "type": t[7], "transport": t[2].lower(),
            "tcptype": tcptype}


def negotiate(a, b, timeout):
    """Offer from a (printed at start), answer from b; returns when both applied."""
    offer = a.wait(lambda e: e["ev"] == "sdp" and e["type"] == "offer", "offer", timeout)
    b.send(f"sdp offer {b64(offer['sdp'])}")
    answer = b.wait(lambda e: e["ev"] == "sdp" and e["type"] == "answer", "answer", timeout)
    a.send(f"sdp answer {b64(answer['sdp'])}")
    return offer, answer


def wait_open_and_messages(a, b, n, timeout):
    for p in (a, b):
        p.wait(lambda e: e["ev"] == "open", "open data channel", timeout)
    for p, tag in ((a, "from-answerer"), (b, "from-offerer")):
        got = set()
        while len(got) < n:
            ev = p.wait(lambda e: e["ev"] == "recv" and e["data"].startswith(tag),
                        f"message {len(got)} of {n} ({tag})", timeout)
            got.add(ev["data"])
        check(got == {f"{tag}-{i}" for i in range(n)}, f"{p.name}: wrong messages {sorted(got)}")


def selected_pair(p):
    pairs = [e for e in p.events if e["ev"] == "pair" and "local" in e]
    check(pairs, f"{p.name}: no selected candidate pair reported")
    e = pairs[-1]
    return parse_cand(e["local"]), parse_cand(e["remote"])


def timings(a, b):
    """Connect times measured by the offerer (a)."""
    out = {}
    g = [e for e in a.events if e["ev"] == "gathering" and e["state"] == "complete"]
    if g:
        out["gather_ms"] = round(g[0]["since_start"], 1)
    ice = [e for e in a.events if e["ev"] == "ice" and e["state"] == "connected"]
    if ice:
        out["ice_connected_after_answer_ms"] = float(ice[0]["since_remote"])
    op = [e for e in a.events if e["ev"] == "open"]
    if op:
        out["open_after_answer_ms"] = float(op[0]["since_remote"])
        out["open_total_ms"] = round(op[0]["since_start"], 1)
    return out


def local_candidate_types(p):
    return sorted({parse_cand(e["candidate"])["type"] for e in p.events if e["ev"] == "candidate"})


def quit_peers(*peers):
    """Both must exit cleanly and promptly (nothing hangs on close)."""
    for p in peers:
        if p.proc.poll() is None:
            p.send("quit")
    for p in peers:
        try:
            rc = p.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail(f"{p.name}: did not exit within 10 s of quit (hang on close?)")
        check(rc == 0, f"{p.name}: exit status {rc}")
        # The process is gone, but its last lines may still be in the reader
        # thread's hands (seen under load): let it reach EOF first.
        p.reader.join(timeout=5)
        ex = p.find("exit")
        check(ex, f"{p.name}: no exit line")


DEBUG = os.environ.get("NAT_TEST_DEBUG", "ice:info,pc:info")
TURN_UDP = f"turn:{SERVER_IP}:3478?transport=udp,{TURN_USER},{TURN_PASS}"
TURN_TCP = f"turn:{SERVER_IP}:3478?transport=tcp,{TURN_USER},{TURN_PASS}"
STUN = f"stun:{SERVER_IP}:3478"


def two_peers(net, kinds, args_a, args_b, debug=DEBUG):
    a_ns, _ = net.site(1, kinds[0])
    b_ns, _ = net.site(2, kinds[1])
    a = Peer(net, "peerA", a_ns, "offer", args_a, debug)
    b = Peer(net, "peerB", b_ns, "answer", args_b, debug)
    return a, b


def connect(a, b, n=10):
    negotiate(a, b, 30)
    wait_open_and_messages(a, b, n, 40)


# ---------------------------------------------------------------------------------------
# Scenarios. Each returns a dict of measurements for the summary line.

def sc_host(net):
    """Baseline: both peers on the public network, no server: host/host."""
    net.build_pub()
    a, b = two_peers(net, ("direct", "direct"), [], [])
    connect(a, b)
    for p in (a, b):
        lo, re_ = selected_pair(p)
        check(lo["type"] == "host" and re_["type"] in ("host", "prflx"),
              f"{p.name}: expected host/host, got {lo['type']}/{re_['type']}")
    quit_peers(a, b)
    return timings(a, b)


def sc_srflx(net):
    """Two different NATs (full cone, port-restricted cone), STUN only."""
    net.build_pub()
    Turn(net)
    a, b = two_peers(net, ("cone", "restricted"), ["--ice-server", STUN], ["--ice-server", STUN])
    connect(a, b)
    for p, mine, theirs in ((a, 1, 2), (b, 2, 1)):
        check("srflx" in local_candidate_types(p),
              f"{p.name}: no srflx candidate gathered: {local_candidate_types(p)}")
        lo, re_ = selected_pair(p)
        # Host addresses (10.0.N.2) cannot reach each other: the path must be
        # NAT to NAT, on the public addresses.
        check(lo["type"] in ("srflx", "prflx") and re_["type"] in ("srflx", "prflx"),
              f"{p.name}: expected a reflexive pair, got {lo['type']}/{re_['type']}")
        check(lo["address"] == net.nat_wan[mine] and re_["address"] == net.nat_wan[theirs],
              f"{p.name}: pair {lo['address']} -> {re_['address']} is not NAT to NAT")
    quit_peers(a, b)
    return timings(a, b)


def sc_symmetric_stun_only(net):
    """Two symmetric NATs and only STUN: no path; ICE must fail (bounded)."""
    net.build_pub()
    Turn(net)
    a, b = two_peers(net, ("symmetric", "symmetric"), ["--ice-server", STUN],
                     ["--ice-server", STUN])
    negotiate(a, b, 30)
    t = time.monotonic()
    for p in (a, b):
        p.wait(lambda e: e["ev"] == "ice" and e["state"] == "failed", "ICE failed", 45)
        check(not p.find("open"), f"{p.name}: a channel opened through symmetric NATs?")
    fail_s = time.monotonic() - t
    quit_peers(a, b)
    return {"failed_after_s": round(fail_s, 1)}


def sc_symmetric_turn(net, tcp):
    """Two symmetric NATs: only a TURN relay connects (UDP or TCP to the server)."""
    net.build_pub()
    turn = Turn(net)
    srv = TURN_TCP if tcp else TURN_UDP
    args = ["--ice-server", STUN, "--ice-server", srv]
    a, b = two_peers(net, ("symmetric", "symmetric"), args, args)
    connect(a, b)
    for p in (a, b):
        check("relay" in local_candidate_types(p),
              f"{p.name}: no relay candidate gathered: {local_candidate_types(p)}")
        lo, re_ = selected_pair(p)
        check("relay" in (lo["type"], re_["type"]),
              f"{p.name}: expected a relayed pair, got {lo['type']}/{re_['type']}")
        check(lo["address"] == SERVER_IP or re_["address"] == SERVER_IP,
              f"{p.name}: relayed pair does not go through {SERVER_IP}")
    logs = turn.logs()
    # coturn logs every TCP client connection: both NATs' public addresses
    # for TURN over TCP, neither for UDP.
    tcp_clients = set(re.findall(r"tcp or tls connected to: (203\.0\.113\.\d+):", logs))
    want = {net.nat_wan[1], net.nat_wan[2]} if tcp else set()
    check(tcp_clients == want, f"TCP clients of the TURN server: {tcp_clients}, want {want}")
    check("ALLOCATE processed, success" in logs, "turnserver log shows no successful allocation")
    quit_peers(a, b)
    return timings(a, b)


def sc_relay_policy(net):
    """Direct network, relay-only policy, TURN REST credentials: relay/relay."""
    net.build_pub()
    turn = Turn(net, rest=True)
    args = ["--relay", "--ice-server", STUN,
            "--turn-rest", f"turn:{SERVER_IP}:3478,{REST_SECRET},peer"]
    a, b = two_peers(net, ("direct", "direct"), args, args)
    connect(a, b)
    for p in (a, b):
        types = local_candidate_types(p)
        check(types == ["relay"], f"{p.name}: relay policy sent candidates of types {types}")
        lo, re_ = selected_pair(p)
        check(lo["type"] == "relay" and re_["type"] == "relay",
              f"{p.name}: expected relay/relay, got {lo['type']}/{re_['type']}")
        # Nothing host or srflx in the SDP either.
        for e in p.events:
            if e["ev"] == "sdp":
                bad = [ln for ln in e["sdp"].splitlines()
                       if ln.startswith("a=candidate") and "typ relay" not in ln]
                check(not bad, f"{p.name}: non-relay candidate in its SDP: {bad}")
    logs = turn.logs()
    allocs = re.findall(r"ALLOCATE processed, success", logs)
    check(len(allocs) >= 2, f"turnserver log shows {len(allocs)} successful allocations, want 2")
    check(re.search(r"realm <weft.test> user <\d+:peer>", logs),
          "turnserver log does not show the TURN REST username")
    quit_peers(a, b)
    out = timings(a, b)
    out["allocations"] = len(allocs)
    return out


def sc_wrong_credentials(net):
    """Wrong TURN password: a clear error, no relay candidate, no crash; the
    peers still connect directly (policy all)."""
    net.build_pub()
    turn = Turn(net)
    bad = f"turn:{SERVER_IP}:3478?transport=udp,{TURN_USER},wrong-password"
    a, b = two_peers(net, ("direct", "direct"), ["--ice-server", bad], ["--ice-server", bad])
    connect(a, b)
    for p in (a, b):
        types = local_candidate_types(p)
        check("relay" not in types, f"{p.name}: relay candidate with a wrong password: {types}")
        errs = [e for e in p.events if e["ev"] == "error"]
        check(errs and "TURN" in errs[0]["message"] and "credential" in errs[0]["message"],
              f"{p.name}: no clear TURN error through on_error: {errs}")
        check("gave no relay candidate" in p.stderr_text(), f"{p.name}: no TURN warning logged")
    logs = turn.logs()
    check(re.search(r"401|Unauthorized|wrong", logs, re.I),
          "turnserver log does not show the rejected credentials")
    quit_peers(a, b)
    return {"errors": [e["message"] for e in a.events if e["ev"] == "error"][:1]}


def sc_wrong_credentials_relay(net):
    """Relay policy and a wrong TURN password: nothing to connect with. A
    clear error, no candidate at all, ICE fails in bounded time, clean exit."""
    net.build_pub()
    Turn(net)
    bad = f"turn:{SERVER_IP}:3478?transport=udp,{TURN_USER},wrong-password"
    args = ["--relay", "--ice-server", bad]
    a, b = two_peers(net, ("direct", "direct"), args, args)
    negotiate(a, b, 30)
    t = time.monotonic()
    for p in (a, b):
        p.wait(lambda e: e["ev"] == "ice" and e["state"] == "failed", "ICE failed", 40)
        check(not local_candidate_types(p), f"{p.name}: candidates {local_candidate_types(p)}")
        errs = [e for e in p.events if e["ev"] == "error"]
        check(errs and "TURN" in errs[0]["message"], f"{p.name}: no TURN error: {errs}")
    fail_s = time.monotonic() - t
    quit_peers(a, b)
    return {"failed_after_s": round(fail_s, 1)}


def sc_turns_refused(net):
    """turns: URLs are refused at configuration time with NOT_SUPPORTED."""
    net.build_pub()
    ns, _ = net.site(1, "direct")
    r = net.sh(ns, ARGS.peer, "--role", "offer", "--ice-server",
               f"turns:{SERVER_IP}:5349,{TURN_USER},{TURN_PASS}", check_rc=False)
    check(r.returncode == 3, f"nat_peer exited {r.returncode}, expected a config error")
    ev = json.loads(r.stdout.strip().splitlines()[0])
    check(ev == {"ev": "config_error", "arg": "--ice-server", "code": "WEFT_ERR_NOT_SUPPORTED"},
          f"unexpected: {ev}")
    check("TLS" in r.stderr, f"error message does not say why: {r.stderr}")
    return {"message": r.stderr.strip()}


def sc_restart(net, by_moved=False, option=False):
    """Peer B moves to another network, then ICE restarts: by A (offerer,
    weft_pc_restart_ice) or by B itself (the peer that moved, which then
    makes the offer, with the ice_restart offer option). Every message sent
    after the restart arrives on both sides, no channel closes, and the new
    path uses B's new address."""
    net.build_pub()
    a, b = two_peers(net, ("direct", "direct"), [], [])
    connect(a, b)
    _, re_ = selected_pair(a)
    check(re_["address"] == "203.0.113.34", f"peerA: B at {re_['address']} before the move")
    # B's second network: link up but no address yet.
    b_ns = f"{net.tag}-peer2"
    net.veth(net.pub, "wan3", "203.0.113.49/28", b_ns, "eth1", None)
    # The move: B loses its address, gets a new one on the other network.
    t_move = time.monotonic()
    run(["ip", "-n", b_ns, "addr", "flush", "dev", "eth0"])
    run(["ip", "-n", b_ns, "link", "set", "eth0", "down"])
    run(["ip", "-n", b_ns, "addr", "add", "203.0.113.50/28", "dev", "eth1"])
    run(["ip", "-n", b_ns, "route", "replace", "default", "via", "203.0.113.49"])
    offerer, answerer = (b, a) if by_moved else (a, b)
    log(f"peerB moved to 203.0.113.50; {offerer.name} restarts ICE")
    offerer.send("restart option" if option else "restart")
    offerer.send("send 20 after-restart-" + offerer.name)
    offer = offerer.wait(lambda e: e["ev"] == "sdp" and e["type"] == "offer", "restart offer", 30)
    old_offer = [e for e in a.events if e["ev"] == "sdp" and e["type"] == "offer"][0]
    ufrag = lambda sdp: re.search(r"a=ice-ufrag:(\S+)", sdp).group(1)
    check(ufrag(offer["sdp"]) != ufrag(old_offer["sdp"]) or by_moved,
          "the restart offer keeps the old ufrag")
    answerer.send(f"sdp offer {b64(offer['sdp'])}")
    answerer.send("send 20 after-restart-" + answerer.name)
    answer = answerer.wait(lambda e: e["ev"] == "sdp" and e["type"] == "answer",
                           "restart answer", 30)
    offerer.send(f"sdp answer {b64(answer['sdp'])}")
    for p, tag in ((answerer, "after-restart-" + offerer.name),
                   (offerer, "after-restart-" + answerer.name)):
        got = set()
        while len(got) < 20:
            ev = p.wait(lambda e: e["ev"] == "recv" and e["data"].startswith(tag),
                        f"message {len(got)} of 20 ({tag})", 40)
            got.add(ev["data"])
        check(got == {f"{tag}-{i}" for i in range(20)}, f"{p.name}: wrong messages")
    t_done = time.monotonic()
    a.send("pair")
    a.wait(lambda e: e["ev"] == "pair" and "203.0.113.50" in e.get("remote", ""),
           "pair with B's new address", 10)
    for p in (a, b):
        check(not p.find("dc_close"), f"{p.name}: a channel closed during the restart")
        check(not p.find("pc", state="failed"), f"{p.name}: the connection failed")
    quit_peers(a, b)
    return {"restart_to_all_delivered_ms": round((t_done - t_move) * 1000, 1)}


def sc_consent(net):
    """The remote vanishes (its link cut): disconnected, then failed, bounded."""
    net.build_pub()
    a, b = two_peers(net, ("direct", "direct"), [], [])
    connect(a, b)
    # An idle but healthy connection stays connected.
    time.sleep(IDLE_CHECK_S)
    for p in (a, b):
        check(not p.find("ice", state="disconnected"),
              f"{p.name}: disconnected while idle on a working path")
    t_cut = time.monotonic() * 1000
    run(["ip", "-n", net.pub, "link", "set", "wan2", "down"])
    log("link to peerB cut")
    dis = a.wait(lambda e: e["ev"] == "ice" and e["state"] == "disconnected", "ICE disconnected",
                 60)
    fail = a.wait(lambda e: e["ev"] == "ice" and e["state"] == "failed", "ICE failed", 60)
    pcf = a.wait(lambda e: e["ev"] == "pc" and e["state"] == "failed", "pc failed", 10)
    d_ms, f_ms = dis["t"] - t_cut, fail["t"] - t_cut
    log(f"disconnected after {d_ms:.0f} ms, failed after {f_ms:.0f} ms")
    check(d_ms < f_ms, "failed before disconnected")
    check(d_ms <= CONSENT_DISCONNECTED_MAX_MS,
          f"disconnected after {d_ms:.0f} ms > {CONSENT_DISCONNECTED_MAX_MS} ms")
    check(f_ms <= CONSENT_FAILED_MAX_MS, f"failed after {f_ms:.0f} ms > {CONSENT_FAILED_MAX_MS} ms")
    t_quit = time.monotonic()
    quit_peers(a, b)
    return {"disconnected_ms": round(d_ms), "failed_ms": round(f_ms),
            "pc_failed_ms": round(pcf["t"] - t_cut),
            "close_after_failed_ms": round((time.monotonic() - t_quit) * 1000)}


# Documented in doc/nat.md (measured with libnice 0.1.21).
IDLE_CHECK_S = 3
# libnice 0.1.21 declares consent lost 10 s after the last consent response
# (checks every 4-6 s): 4-10 s after the cut; weft reports failed 5 s later.
CONSENT_DISCONNECTED_MAX_MS = 10500
CONSENT_FAILED_MAX_MS = 15500


def sc_aiortc_relay(net):
    net.build_pub()
    turn = Turn(net)
    a_ns, _ = net.site(1, "symmetric")
    b_ns, _ = net.site(2, "symmetric")
    a = Peer(net, "peerA", a_ns, "offer", ["--relay", "--ice-server", TURN_UDP], DEBUG)
    here = os.path.dirname(os.path.abspath(__file__))
    b = Peer.__new__(Peer)
    b.name, b.events, b.q = "aiortc", [], queue.Queue()
    b.err_path = os.path.join(net.tmp, "aiortc.stderr")
    b.err = open(b.err_path, "w")
    b.proc = net.spawn("aiortc", b_ns, [sys.executable, os.path.join(here, "aiortc_turn.py"),
                                        "--turn", f"turn:{SERVER_IP}:3478",
                                        "--user", TURN_USER, "--password", TURN_PASS],
                       stderr=b.err)
    b.reader = threading.Thread(target=b._read, daemon=True)
    b.reader.start()
    PEERS.append(b)
    _, answer = negotiate(a, b, 30)
    check(answer.get("candidate_types") == ["relay"],
          f"aiortc answered with candidates {answer.get('candidate_types')}, want relay only")
    a.wait(lambda e: e["ev"] == "open", "open data channel", 40)
    got = set()
    while len(got) < 10:
        ev = a.wait(lambda e: e["ev"] == "recv" and e["data"].startswith("echo:from-offerer"),
                    "echo from aiortc", 40)
        got.add(ev["data"])
    lo, re_ = selected_pair(a)
    check(lo["type"] == "relay" and re_["type"] == "relay",
          f"peerA: selected {lo['type']}/{re_['type']}, want relay/relay")
    types = local_candidate_types(a)
    check(types == ["relay"], f"peerA: candidates {types}")
    check("ALLOCATE processed, success" in turn.logs(), "no allocation in the turnserver log")
    a.send("quit")
    b.send("quit")
    for p in (a, b):
        try:
            p.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail(f"{p.name}: did not exit")
    check(a.proc.returncode == 0, f"peerA exit {a.proc.returncode}")
    return timings(a, b)


# ---------------------------------------------------------------------------------------
# ICE-TCP (RFC 6544, weft_config_set_ice_tcp): two peers on one link that
# drops every UDP datagram; only TCP gets through.

ICE_TCP_A, ICE_TCP_B = "10.77.0.1", "10.77.0.2"
ICE_TCP_ECHOES = 200
ICE_TCP_BULK = 8 * 1024 * 1024  # bytes, A -> B
ICE_TCP_CHUNK = 16 * 1024
ICE_TCP_PORTS = (42000, 42100)  # A's port range: its passive port lies inside
# Switch off: no path. Measured 5.1 s (UDP refused by the peer's own
# firewall) and 7.1 s (silent: the checks time out); the bound leaves room
# for a loaded machine and sanitizers.
ICE_TCP_OFF_FAILED_MAX_S = 40


def udp_blocked_pair(net, silent):
    """Namespaces ta (10.77.0.1) and tb (10.77.0.2) on one veth link, no
    other interface but lo; iptables drops all UDP on the veth in both (IPv6
    is off in every namespace of the fixture). Not silent: in and out, so a
    peer's own sendto() fails at once (EPERM), as a local firewall does.
    Silent: in only, so datagrams leave and vanish on the far side, as a
    firewall in the network does (checks time out instead of failing).
    Returns [(ns, ifname)] for udp_drops()."""
    a_ns, b_ns = net.ns("ta"), net.ns("tb")
    net.veth(a_ns, "va", f"{ICE_TCP_A}/24", b_ns, "vb", f"{ICE_TCP_B}/24")
    links = [(a_ns, "va"), (b_ns, "vb")]
    for ns, ifn in links:
        net.sh(ns, "iptables", "-w", "5", "-A", "INPUT", "-i", ifn, "-p", "udp", "-j", "DROP")
        if not silent:
            net.sh(ns, "iptables", "-w", "5", "-A", "OUTPUT", "-o", ifn, "-p", "udp", "-j",
                   "DROP")
    return links


def udp_drops(net, links, silent):
    """{ns: {"in": packets[, "out": packets]}} dropped by the UDP rules; the
    block must have been exercised: in silent mode every namespace dropped
    datagrams coming in, otherwise every namespace dropped its own."""
    out = {}
    for ns, ifn in links:
        counts = {}
        for chain, key in (("INPUT", "in"), ("OUTPUT", "out"))[:1 if silent else 2]:
            text = net.sh(ns, "iptables", "-w", "5", "-L", chain, "-v", "-n", "-x").stdout
            rows = [ln.split() for ln in text.splitlines()
                    if " DROP " in f" {ln} " and ifn in ln.split()
                    and ("udp" in ln.split() or "17" in ln.split())]
            check(len(rows) == 1, f"{ns}: no UDP DROP rule in {chain}: {text}")
            counts[key] = int(rows[0][0])
        out[ns] = counts
        key = "in" if silent else "out"
        check(counts[key] > 0, f"{ns}: the UDP block was never exercised: {counts}")
    return {ns.split("-")[-1]: c for ns, c in out.items()}


def tcp_peers(net, args_a, args_b, silent):
    links = udp_blocked_pair(net, silent)
    a = Peer(net, "peerA", links[0][0], "offer", args_a, DEBUG)
    b = Peer(net, "peerB", links[1][0], "answer", args_b, DEBUG)
    return links, a, b


def sc_ice_tcp(net, silent=False):
    """UDP blocked, ICE-TCP on both sides: they connect over TCP (tcp pair on
    both sides, an established TCP connection between the two addresses),
    echo ICE_TCP_ECHOES messages intact and in order, carry ICE_TCP_BULK
    bytes intact, and the UDP block was exercised (DROP counters > 0)."""
    port_range = f"{ICE_TCP_PORTS[0]}-{ICE_TCP_PORTS[1]}"
    links, a, b = tcp_peers(net, ["--ice-tcp", "--port-range", port_range], ["--ice-tcp"],
                            silent)
    t0 = time.monotonic()
    connect(a, b)
    for p, mine, theirs in ((a, ICE_TCP_A, ICE_TCP_B), (b, ICE_TCP_B, ICE_TCP_A)):
        cands = [parse_cand(e["candidate"]) for e in p.events if e["ev"] == "candidate"]
        tcp = sorted((c["tcptype"], c["type"], c["address"]) for c in cands
                     if c["transport"] == "tcp")
        check(tcp == [("active", "host", mine), ("passive", "host", mine)],
              f"{p.name}: TCP candidates {tcp}")
        check(all(c["port"] == 9 for c in cands if c["tcptype"] == "active"),
              f"{p.name}: an active candidate without port 9: {cands}")
        if p is a:  # the port range applies to the listening socket too
            check(all(ICE_TCP_PORTS[0] <= c["port"] <= ICE_TCP_PORTS[1]
                      for c in cands if c["tcptype"] != "active"),
                  f"{p.name}: a port outside {ICE_TCP_PORTS}: {cands}")
        lo, re_ = selected_pair(p)
        check(lo["transport"] == "tcp" and re_["transport"] == "tcp",
              f"{p.name}: selected {lo['transport']}/{re_['transport']}, want tcp/tcp")
        check(lo["tcptype"] in ("active", "passive") and re_["tcptype"] in ("active", "passive"),
              f"{p.name}: selected pair without tcptype: {lo} {re_}")
        check(lo["address"] == mine and re_["address"] == theirs,
              f"{p.name}: pair {lo['address']} -> {re_['address']}")
    # The kernel's view: one established connection between the two.
    ss = net.sh(links[0][0], "ss", "-tnH", "state", "established").stdout
    check(re.search(rf"{re.escape(ICE_TCP_A)}:\d+\s+{re.escape(ICE_TCP_B)}:\d+", ss),
          f"no established TCP connection {ICE_TCP_A} <-> {ICE_TCP_B}: {ss!r}")
    t_open = time.monotonic()
    # Echo: A sends ping-i, B answers echo:ping-i; A must see them all, in order.
    a.send(f"send {ICE_TCP_ECHOES} ping")
    got = []
    while len(got) < ICE_TCP_ECHOES:
        ev = a.wait(lambda e: e["ev"] == "recv" and e["data"].startswith("echo:ping-"),
                    f"echo {len(got)} of {ICE_TCP_ECHOES}", 30)
        got.append(ev["data"])
    check(got == [f"echo:ping-{i}" for i in range(ICE_TCP_ECHOES)],
          f"peerA: echoes out of order or altered: {got[:5]}...")
    echo_ms = (time.monotonic() - t_open) * 1000
    # Bulk: A -> B, every byte and the order checked by B.
    t_bulk = time.monotonic()
    a.send(f"bulk {ICE_TCP_BULK} {ICE_TCP_CHUNK}")
    done = b.wait(lambda e: e["ev"] in ("bulk_done", "bulk_error"), "bulk transfer", 60)
    check(done["ev"] == "bulk_done", f"peerB: {done}")
    check(int(done["bytes"]) == ICE_TCP_BULK, f"peerB: got {done['bytes']} bytes")
    bulk_s = time.monotonic() - t_bulk
    for p in (a, b):
        check(not p.find("ice", state="disconnected") and not p.find("ice", state="failed"),
              f"{p.name}: ICE left connected during the transfer")
    drops = udp_drops(net, links, silent)
    quit_peers(a, b)
    out = timings(a, b)
    out.update({"echo_ms": round(echo_ms, 1), "bulk_bytes": ICE_TCP_BULK,
                "bulk_s": round(bulk_s, 2),
                "bulk_mbit_s": round(ICE_TCP_BULK * 8 / bulk_s / 1e6, 1),
                "udp_drops": drops,
                "pairs": {p.name: {k: v for k, v in [e for e in p.events if e["ev"] == "pair"
                                                      and "local" in e][-1].items()
                                   if k in ("local", "remote")} for p in (a, b)},
                "wall_to_open_s": round(t_open - t0, 2)})
    return out


def sc_ice_tcp_stray(net):
    """A stray TCP client (any host that reaches the port) connects to A's
    passive port during a working ICE-TCP session and writes an incomplete
    RFC 4571 frame. libnice 0.1.21 reassembles frames in one buffer shared by
    every TCP connection of the component (doc/nat.md): the stray bytes
    corrupt the framing of the real connection and A receives nothing more.
    Asserted: nothing crashes or hangs; either every echo still arrives, or A
    goes disconnected (consent) and failed within ICE_TCP_STRAY_FAILED_MAX_S;
    both peers exit cleanly. Reports which happened ("survived")."""
    links, a, b = tcp_peers(net, ["--ice-tcp"], ["--ice-tcp"], False)
    connect(a, b)
    cands = [parse_cand(e["candidate"]) for e in a.events if e["ev"] == "candidate"]
    port = [c["port"] for c in cands if c["tcptype"] == "passive"][0]
    code = ("import socket,time\n"
            f"s=socket.create_connection(('{ICE_TCP_A}',{port}),timeout=5)\n"
            "s.sendall(b'\\xff\\xf0'+b'x'*100)\n"  # a frame of 65520 bytes, 100 sent
            "time.sleep(60)\n")
    net.spawn("stray", links[1][0], [sys.executable, "-c", code], stdin=False, stdout=None)
    time.sleep(0.5)
    t = time.monotonic()
    a.send(f"send {ICE_TCP_ECHOES} ping")
    n = 0
    survived = True
    while n < ICE_TCP_ECHOES:
        ev = a.wait(lambda e: (e["ev"] == "recv" and e["data"].startswith("echo:ping-")) or
                    (e["ev"] == "ice" and e["state"] == "failed"), "echo or ICE failed",
                    ICE_TCP_STRAY_FAILED_MAX_S + 5)
        if ev["ev"] == "ice":
            survived = False
            break
        n += 1
    fail_s = time.monotonic() - t
    if not survived:
        log(f"stray client: {n} echoes, then ICE failed after {fail_s:.1f} s")
        check(fail_s <= ICE_TCP_STRAY_FAILED_MAX_S, f"ICE failed after {fail_s:.1f} s")
        check(a.find("ice", state="disconnected"), "peerA: failed without disconnected")
    quit_peers(a, b)
    return {"survived": survived, "echoes_after_stray": n,
            "failed_after_s": None if survived else round(fail_s, 1)}


# libnice declares consent lost 10 s after the last response; weft says
# failed 5 s later (doc/nat.md).
ICE_TCP_STRAY_FAILED_MAX_S = 20


def sc_ice_tcp_off(net, silent=False):
    """The same UDP-blocked link with ICE-TCP off (the default) on both
    sides: no TCP candidate is gathered or signalled, ICE fails within
    ICE_TCP_OFF_FAILED_MAX_S, no channel opens, both exit cleanly."""
    links, a, b = tcp_peers(net, [], [], silent)
    negotiate(a, b, 30)
    t = time.monotonic()
    for p in (a, b):
        p.wait(lambda e: e["ev"] == "ice" and e["state"] == "failed", "ICE failed",
               ICE_TCP_OFF_FAILED_MAX_S + 5)
    fail_s = time.monotonic() - t
    check(fail_s <= ICE_TCP_OFF_FAILED_MAX_S, f"ICE failed after {fail_s:.1f} s")
    for p in (a, b):
        check(not p.find("open"), f"{p.name}: a channel opened with UDP blocked")
        cands = [parse_cand(e["candidate"]) for e in p.events if e["ev"] == "candidate"]
        check(cands and all(c["transport"] == "udp" for c in cands),
              f"{p.name}: candidates {cands}")
        for e in p.events:
            if e["ev"] == "sdp":
                check(not re.search(r"a=candidate:\S+ \d+ tcp ", e["sdp"], re.I),
                      f"{p.name}: a TCP candidate in its SDP")
    drops = udp_drops(net, links, silent)
    quit_peers(a, b)
    return {"failed_after_s": round(fail_s, 1), "udp_drops": drops}


SCENARIOS = {
    "host": sc_host,
    "srflx": sc_srflx,
    "symmetric_stun_only": sc_symmetric_stun_only,
    "symmetric_turn_udp": lambda n: sc_symmetric_turn(n, False),
    "symmetric_turn_tcp": lambda n: sc_symmetric_turn(n, True),
    "relay_policy": sc_relay_policy,
    "wrong_credentials": sc_wrong_credentials,
    "wrong_credentials_relay": sc_wrong_credentials_relay,
    "turns_refused": sc_turns_refused,
    "restart": sc_restart,
    "restart_by_moved_peer": lambda n: sc_restart(n, by_moved=True, option=True),
    "consent": sc_consent,
    "aiortc_relay": sc_aiortc_relay,
    "ice_tcp": sc_ice_tcp,
    "ice_tcp_silent": lambda n: sc_ice_tcp(n, silent=True),
    "ice_tcp_stray": sc_ice_tcp_stray,
    "ice_tcp_off": sc_ice_tcp_off,
    "ice_tcp_off_silent": lambda n: sc_ice_tcp_off(n, silent=True),
}


def preflight():
    if os.geteuid() != 0:
        raise Fail("needs root (network namespaces, iptables); CI runs as root")
    for tool in ("ip", "iptables", "turnserver"):
        if not shutil.which(tool):
            raise Fail(f"{tool} not found (scripts/deps installs iproute2, iptables, coturn)")
    if not os.access(ARGS.peer, os.X_OK):
        raise Fail(f"nat_peer not executable: {ARGS.peer}")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--timeout", type=float, default=80)
    ap.add_argument("--keep-logs", action="store_true")
    ARGS = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix=f"weft-nat-{ARGS.scenario}-")
    net = Net(tmp)
    ok = False

    def on_alarm(signum, frame):
        raise Fail(f"scenario did not finish within {ARGS.timeout:.0f} s")

    def on_term(signum, frame):
        raise Fail(f"killed by signal {signum}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(ARGS.timeout))
    try:
        preflight()
        res = SCENARIOS[ARGS.scenario](net)
        print(json.dumps({"scenario": ARGS.scenario, "ok": True, **(res or {})}), flush=True)
        ok = True
    except Fail as e:
        print(f"FAIL: {ARGS.scenario}: {e}", flush=True)
    except Exception as e:  # a bug in the fixture is a failure too
        import traceback
        traceback.print_exc()
        print(f"FAIL: {ARGS.scenario}: {type(e).__name__}: {e}", flush=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        net.cleanup()
        if not ok or ARGS.keep_logs:
            for p in PEERS:
                print(f"----- {p.name} events (last 60) -----", file=sys.stderr)
                for e in p.events[-60:]:
                    if e.get("ev") == "sdp":
                        e = dict(e, sdp="<%d bytes>" % len(e["sdp"]))
                    print(json.dumps(e), file=sys.stderr)
            for name in sorted(os.listdir(tmp)):
                path = os.path.join(tmp, name)
                if os.path.isfile(path) and not name.startswith("turndb"):
                    with open(path, errors="replace") as f:
                        text = f.read()
                    print(f"----- {name} (last 6000 chars) -----\n{text[-6000:]}", file=sys.stderr)
        if ARGS.keep_logs:
            print(f"logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
