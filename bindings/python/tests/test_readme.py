"""The README's example runs exactly as written and prints what it says."""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")


def blocks(lang: str) -> list:
    """The fenced code blocks of the README whose info string is @lang."""
    with open(README, encoding="utf-8") as f:
        lines = f.read().split("\n")
    found, current, info = [], None, None
    for line in lines:
        if line.startswith("```"):
            if current is None:
                current, info = [], line[3:].strip()
            else:
                if info == lang:
                    found.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return found


def test_readme_example_runs(tmp_path) -> None:
    code = blocks("python")[0]
    assert "asyncio.run(main())" in code
    expected = blocks("")[0]
    script = tmp_path / "example.py"
    script.write_text(code)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected, (proc.stdout, proc.stderr)
