"""The offline install flow works: a venv with the system site-packages
(Debian's setuptools), pip without network or build isolation, then the
README example runs with the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess

from test_readme import blocks

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def test_offline_venv_install(tmp_path) -> None:
    # A copy, so that setuptools' build/ and egg-info never land in the tree.
    src = tmp_path / "python"
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", "build", "*.egg-info", "tests"))
    venv = tmp_path / "v"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120, env=env)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation",
                          "--no-index", str(src)], capture_output=True, text=True, timeout=300,
                         env=env)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    py = str(venv / "bin" / "python")
    where = subprocess.run([py, "-c", "import weft, sys; print(weft.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(venv)), where.stdout
    script = tmp_path / "example.py"
    script.write_text(blocks("python")[0])
    run = subprocess.run([py, str(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == blocks("")[0]
