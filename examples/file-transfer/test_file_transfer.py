#!/usr/bin/python3
"""file-transfer weft -> weft through the real signaling-server
(doc/rooms.md): a 64 MiB random file arrives with the right SHA-256; with
--cut-after 32M the sender drops its connection once and resumes from the
receiver's partial file to completion; a sender announcing a wrong SHA-256
gets ok:false and the receiver keeps nothing. Prints the measured MB/s.

usage: test_file_transfer.py FILE_TRANSFER SIGNALING_SERVER [SIZE_MIB]
"""
import hashlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chat"))
from roomtest import check, run  # noqa: E402

FT, SERVER = sys.argv[1], sys.argv[2]
SIZE = int(sys.argv[3] if len(sys.argv) > 3 else 64) * 1024 * 1024
TIMEOUT = 120  # seconds for one transfer, far above what it takes


def done_line(p):
    ev = p.wait_event(lambda e: e.get("ev") == "done", TIMEOUT + 10, "the done line")
    for k in ("ok", "name", "size", "sha256", "seconds", "mb_per_s", "resumed_from"):
        check(k in ev, f"{p.name}: done line without {k}: {ev}")
    return ev


def transfer(procs, srv, tmp, case, src, extra, sender_first=False, rx_extra=()):
    """sender_first: the receiver joins last, so it offers (the sender
    answers); otherwise the sender offers."""
    room = "ft-" + case
    out = os.path.join(tmp, "out-" + case)
    os.mkdir(out)
    common = ["--url", srv.url, "--room", room, "--timeout", str(TIMEOUT)]
    rx_argv = [FT, "receive", out, "--peer", "rx"] + common + list(rx_extra)
    tx_argv = [FT, "send", src, "--to", "rx", "--peer", "tx"] + common + extra
    first, second = (("send-", tx_argv), ("receive-", rx_argv))
    if not sender_first:
        first, second = second, first
    a = procs.start(first[0] + case, first[1])
    a.wait_event(lambda e: e.get("ev") == "joined", 10, "joined")
    b = procs.start(second[0] + case, second[1])
    tx, rx = (a, b) if sender_first else (b, a)
    sev, rev = done_line(tx), done_line(rx)
    return tx, rx, sev, rev, out


def main(procs):
    srv = procs.server(SERVER)
    with tempfile.TemporaryDirectory(prefix="weft-ft-") as tmp:
        src = os.path.join(tmp, "random.bin")
        data = os.urandom(SIZE)
        with open(src, "wb") as f:
            f.write(data)
        sha = hashlib.sha256(data).hexdigest()
        del data

        # 1. Plain transfer.
        tx, rx, sev, rev, out = transfer(procs, srv, tmp, "plain", src, [])
        check(sev["ok"] is True and rev["ok"] is True, f"not ok: {sev} {rev}")
        check(tx.wait_exit(15) == 0 and rx.wait_exit(15) == 0, "exit codes")
        check(sev["sha256"] == sha and rev["sha256"] == sha and rev["size"] == SIZE, "hash/size")
        check(os.listdir(out) == ["random.bin"], f"receiver dir: {os.listdir(out)}")
        with open(os.path.join(out, "random.bin"), "rb") as f:
            check(hashlib.sha256(f.read()).hexdigest() == sha, "received file differs")
        check(sev["resumed_from"] == 0, "plain transfer resumed?")
        print(f"plain: {SIZE >> 20} MiB in {sev['seconds']} s = {sev['mb_per_s']} MB/s (sender), "
              f"{rev['mb_per_s']} MB/s (receiver)")

        # 2. Cut after 32 MiB (half of the file), resumed to completion. The
        # sender joins first: the receiver offers the first connection, the
        # sender (rejoining) the second.
        cut = SIZE // 2
        tx, rx, sev, rev, out = transfer(procs, srv, tmp, "cut", src, ["--cut-after", str(cut)],
                                         sender_first=True)
        check(sev["ok"] is True and rev["ok"] is True, f"not ok: {sev} {rev}")
        check(tx.wait_exit(15) == 0 and rx.wait_exit(15) == 0, "exit codes")
        check(any(e.get("ev") == "cut" for e in tx.events), "the sender did not cut")
        resumes = [e["offset"] for e in rx.events if e.get("ev") == "resume"]
        check(len(resumes) == 2 and resumes[0] == 0 and 0 < resumes[1] <= cut + 1024 * 1024,
              f"receiver resume offsets {resumes}")
        check(sev["resumed_from"] == resumes[1] == rev["resumed_from"], "resumed_from")
        check(os.listdir(out) == ["random.bin"], f"receiver dir: {os.listdir(out)}")
        with open(os.path.join(out, "random.bin"), "rb") as f:
            check(hashlib.sha256(f.read()).hexdigest() == sha, "resumed file differs")
        print(f"cut at {cut >> 20} MiB, resumed from {resumes[1]}: {sev['seconds']} s "
              f"= {sev['mb_per_s']} MB/s overall")

        # 3. The sender lies about the hash: ok:false on both sides, nothing kept.
        tx, rx, sev, rev, out = transfer(procs, srv, tmp, "lie", src, ["--test-lie-sha256"])
        check(sev["ok"] is False and rev["ok"] is False, f"should fail: {sev} {rev}")
        check("sha256 mismatch" in rev.get("error", "") and "sha256 mismatch" in
              sev.get("error", ""), f"error text: {sev} {rev}")
        check(tx.wait_exit(15) == 1 and rx.wait_exit(15) == 1, "exit codes after a mismatch")
        check(os.listdir(out) == [], f"a mismatch left files: {os.listdir(out)}")

        # 4. Both sides first send malformed messages on the file channel
        # (--test-garbage: bad JSON, bad headers with "../" names, negative
        # or absurd sizes and offsets, binary junk): ignored, and the real
        # transfer still succeeds with nothing stray written.
        small = os.path.join(tmp, "small.bin")
        with open(src, "rb") as f, open(small, "wb") as g:
            g.write(f.read(4 * 1024 * 1024))
        with open(small, "rb") as f:
            small_sha = hashlib.sha256(f.read()).hexdigest()
        tx, rx, sev, rev, out = transfer(procs, srv, tmp, "garbage", small, ["--test-garbage"],
                                         rx_extra=["--test-garbage"])
        check(sev["ok"] is True and rev["ok"] is True, f"not ok: {sev} {rev}")
        check(rev["sha256"] == small_sha, "garbage case: hash")
        check(tx.wait_exit(15) == 0 and rx.wait_exit(15) == 0, "exit codes (garbage)")
        check(os.listdir(out) == ["small.bin"], f"receiver dir: {os.listdir(out)}")
        check(not os.path.exists(os.path.join(tmp, "evil")), "a ../ name escaped")
        ignored = sum(1 for line in rx.err + tx.err if "ignored" in line)
        check(ignored >= 20, f"only {ignored} malformed messages reported")


if __name__ == "__main__":
    sys.exit(run(main))
