#!/usr/bin/env python3
"""ABI hygiene for libweft (DESIGN §1 ABI row, api-sketch §6.10).

usage: check_abi.py LIBWEFT_SO INCLUDE_DIR BUILD_INCLUDE_DIR CC CXX

1. Exported symbols are exactly the weft_* functions declared with WEFT_API in
   the public headers (nothing internal leaks, nothing declared is missing).
2. Each public header compiles alone as C11 -pedantic and as C++.
"""
import os
import re
import subprocess
import sys
import tempfile

lib, inc, binc, cc, cxx = sys.argv[1:6]
headers = ["weft/weft.h", "weft/weft-glib.h", "weft/weft-version.h"]

declared = set()
for h in ["weft/weft.h", "weft/weft-glib.h"]:
    text = open(os.path.join(inc, h)).read()
    # WEFT_API <return type> name(  — across line breaks
    for m in re.finditer(r"WEFT_API\s+[^;(]*?\b(weft_\w+)\s*\(", text):
        declared.add(m.group(1))

out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                     check=True).stdout
exported = set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) >= 3 and parts[1] in "TtDdBbRr":
        exported.add(parts[2].split("@")[0])

failures = []
leaked = sorted(s for s in exported if not s.startswith("weft_"))
if leaked:
    failures.append("non-weft_ symbols exported: %s" % ", ".join(leaked[:20]))
undeclared = sorted(s for s in exported if s.startswith("weft_") and s not in declared)
if undeclared:
    failures.append("exported but not declared in a public header: %s" % ", ".join(undeclared))
missing = sorted(declared - exported)
if missing:
    failures.append("declared but not exported (unimplemented?): %s" % ", ".join(missing))

glib_cflags = subprocess.run(["pkg-config", "--cflags", "glib-2.0"], capture_output=True,
                             text=True, check=True).stdout.split()
with tempfile.TemporaryDirectory() as tmp:
    for h in headers:
        extra = glib_cflags if h.endswith("glib.h") else []
        for compiler, std, suffix in ((cc, "-std=c11", "c"), (cxx, "-std=c++11", "cpp")):
            src = os.path.join(tmp, "t." + suffix)
            with open(src, "w") as f:
                f.write("#include <%s>\nint weft_abi_probe;\n" % h)
            cmd = [compiler, std, "-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                   "-I", inc, "-I", binc] + extra + [src]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                failures.append("%s does not compile alone (%s):\n%s" % (h, std, r.stderr[:2000]))

print("declared %d, exported %d" % (len(declared), len(exported)))
if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("abi: OK")
