"""The install a reader runs: one readable input, one lock, Binder's file derived from it."""
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lock  # noqa: E402


def test_the_lock_binder_file_and_input_agree():
    assert lock.problems() == []


def test_drift_is_caught(tmp_path, monkeypatch):
    binder = tmp_path / "requirements.txt"
    binder.write_text(lock.BINDER.read_text().replace("torch==", "torch>="))
    monkeypatch.setattr(lock, "BINDER", binder)
    assert any("not derived" in p for p in lock.problems())


def test_every_direct_dependency_is_in_the_lock_and_the_lock_is_pinned():
    pins = {lock.name_of(l): l for l in lock.requirement_lines(lock.LOCK)}
    assert all("==" in l for l in pins.values())
    for line in lock.requirement_lines(lock.INPUT):
        assert lock.name_of(line) in pins, line


def test_linux_takes_the_cpu_build_of_pytorch():
    """On Linux `make env` installs torch with PyTorch's CPU index; on macOS it does not."""
    # the Makefile's own default: not a variable set on the command line of a make that runs
    # this test (make passes it down through MAKEFLAGS)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TORCH_INDEX")}
    out = subprocess.run(["make", "-n", "--always-make", "env", "-f", "Makefile"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    torch_line = next(l for l in out.splitlines() if '"torch==' in l)
    if sys.platform.startswith("linux"):
        assert "--extra-index-url https://download.pytorch.org/whl/cpu" in torch_line
    mac = subprocess.run(["make", "-n", "--always-make", "env", "TORCH_INDEX="], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "download.pytorch.org" not in mac
    assert re.search(r'"torch==\d', torch_line)


def test_the_readme_says_how_to_install_and_update():
    readme = (ROOT / "README.md").read_text()
    for needle in ("tools/lock.py", "requirements.in", "Windows", "macOS", "3.11"):
        assert needle in readme, needle
