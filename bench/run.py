"""`make bench`: how long every section takes, and each chapter's own measured figures.

1. Executes every notebook under book/ (as the build does, GENMECH_MODE=record) and prints
   its wall time against the 60 s budget of a section.
2. Runs every bench/bench_*.py, each printing the figures its chapter states in the text
   (time to cover all modes, tokens per second, ...).

Timings are printed, never asserted: machines are noisy.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUDGET = 60.0


def time_notebook(path: pathlib.Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def last_build() -> None:
    """What the last `make book` / `make test` recorded: wall times, and each section's
    execution inside the build (notebooks side by side, so they overlap)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import executed

    timings = ROOT / "_build" / "timings.txt"
    if timings.exists():
        print("== the last runs of the two commands, and of `make test`'s stages (wall time, this machine)")
        for line in timings.read_text().splitlines()[-12:]:
            print("  " + line)
    seconds = executed.times()
    if seconds:
        print(f"\n== the last build's execution, per section ({len(seconds)} notebooks, "
              f"run side by side; their sum is CPU-bound work, not wall time)")
        for rel, secs in sorted(seconds.items(), key=lambda kv: -kv[1]):
            print(f"  {rel:<64} {secs:7.1f} s")
        print(f"  {'sum':<64} {sum(seconds.values()):7.1f} s")
    print()


def main() -> int:
    os.environ.setdefault("GENMECH_MODE", "record")
    only = sys.argv[1:]
    if not only:
        last_build()
    notebooks = sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts
                       and (not only or any(o in str(p) for o in only)))
    print(f"{'section':<60} {'seconds':>8}  budget {BUDGET:.0f} s")
    total, over = 0.0, []
    for nb in notebooks:
        seconds = time_notebook(nb)
        total += seconds
        flag = "ok" if seconds < BUDGET else "OVER"
        if seconds >= BUDGET:
            over.append(nb)
        print(f"{str(nb.relative_to(ROOT / 'book')):<60} {seconds:8.1f}  {flag}", flush=True)
    print(f"{'all sections':<60} {total:8.1f}  ({len(notebooks)} sections, {len(over)} over budget)")
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        if only and not any(o.replace("-", "_").strip("/").split("/")[-1] in script.name for o in only):
            continue
        print(f"\n== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], check=False, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
