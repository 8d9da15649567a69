#!/usr/bin/env python3
"""Layering lint for lib/ (DESIGN §2, api-sketch §9, §4.4 rule 1).

- Each layer includes only the layers it may see.
- Only ice/ includes libnice, only dtls/ mbedTLS, only sctp/ usrsctp, only
  srtp/ libsrtp2.
- No use of GLib's global-default main context anywhere in lib/.
usage: check_layering.py LIB_DIR
"""
import os
import re
import sys

lib = sys.argv[1]
allowed = {
    "core": set(),
    "loop": {"core"},
    "sdp": {"core"},
    "rtp": {"core"},
    "demux": {"core"},
    "srtp": {"core"},
    "jsep": {"core", "sdp"},
    "ice": {"core", "loop"},
    "dtls": {"core", "loop"},
    "sctp": {"core", "loop"},
    "datachannel": {"core", "loop", "sctp"},
    "media": {"core", "loop", "rtp"},
    "pc": {"core", "loop", "sdp", "jsep", "ice", "demux", "dtls", "srtp", "sctp", "datachannel",
           "media", "rtp"},
    "api": {"core", "loop", "pc", "sdp", "jsep", "ice", "dtls", "sctp", "datachannel", "srtp",
            "media", "rtp", "demux"},
}
external_owner = {"nice/": "ice", "agent.h": "ice", "mbedtls/": "dtls", "usrsctp.h": "sctp",
                  "srtp2/": "srtp"}
forbidden_calls = re.compile(
    r"\b(g_timeout_add(_seconds)?(_full)?|g_idle_add(_full)?|g_main_context_default|"
    r"g_main_loop_new\s*\(\s*NULL|g_log_set_default_handler|g_log_set_writer_func)\b")

problems = []
for layer in sorted(os.listdir(lib)):
    d = os.path.join(lib, layer)
    if not os.path.isdir(d):
        continue
    if layer not in allowed:
        problems.append("unknown layer %s (add it to check_layering.py)" % layer)
        continue
    for name in sorted(os.listdir(d)):
        if not name.endswith((".c", ".h")):
            continue
        path = os.path.join(d, name)
        text = open(path, encoding="utf-8", errors="replace").read()
        for n, line in enumerate(text.splitlines(), 1):
            m = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
            if m:
                target = m.group(1)
                first = target.split("/")[0]
                if "/" in target and first in allowed and first != layer:
                    if first not in allowed[layer]:
                        problems.append("%s:%d: %s may not include %s" % (path, n, layer, target))
                for prefix, owner in external_owner.items():
                    if target.startswith(prefix) and layer != owner:
                        problems.append("%s:%d: only %s/ may include %s" % (path, n, owner, target))
            code = line.split("//")[0]
            if forbidden_calls.search(code) and not code.lstrip().startswith(("*", "/*")):
                problems.append("%s:%d: uses the global default GLib context or log writer: %s"
                                % (path, n, line.strip()))
if problems:
    print("\n".join(problems))
    sys.exit(1)
print("layering: OK")
