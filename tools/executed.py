"""Execute the book's notebooks once, in parallel, and hand the results to the site build.

    python tools/executed.py run [NOTEBOOK ...] [--workers N]   # execute, save, cache
    python tools/executed.py cache                              # cache what was saved

Jupyter Book 1 executes notebooks one after another. The book's notebooks each run on one
CPU thread (see ``genmech``), so running them side by side, one per core, divides the
build's execution time by the number of cores. ``run`` executes notebooks with nbclient in
a pool of ``--workers`` kernels (default: the number of CPUs) and saves each executed
notebook under ``_build/executed/`` with how long it took; ``make test`` saves the
notebooks that nbval executed instead (``tools/nbval_executed.py``), so one execution
serves both nbval's check and the site. ``cache`` empties the build's jupyter-cache
(``_build/.jupyter_cache``) and fills it with the saved notebooks; the build
(``execute_notebooks: cache`` in ``_config.yml``) then renders them without executing
anything again. A notebook that was not saved (it failed, or is new) is a cache miss, and
the build executes it itself, so nothing is skipped and an error still fails the build.
The cache is refilled on every build from this run's results: a change to ``genmech``
can never be hidden behind an old cached output.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXECUTED = ROOT / "_build" / "executed"
CACHE = ROOT / "_build" / ".jupyter_cache"
TIMES = "times.json"


def book_notebooks() -> list[pathlib.Path]:
    """Every notebook of the book (what the table of contents reaches lives under book/)."""
    return sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def saved_path(source: pathlib.Path, folder: pathlib.Path = EXECUTED) -> pathlib.Path:
    return folder / source.resolve().relative_to(ROOT)


def save(source: pathlib.Path, notebook, seconds: float, folder: pathlib.Path = EXECUTED) -> None:
    """Write an executed notebook and record its execution time."""
    import nbformat

    target = saved_path(source, folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    target.with_name(target.name + ".seconds").write_text(f"{seconds:.2f}\n")


def times(folder: pathlib.Path = EXECUTED) -> dict[str, float]:
    """Seconds each saved notebook took to execute, by path relative to the repository."""
    out = {}
    for record in sorted(folder.rglob("*.ipynb.seconds")):
        source = record.with_name(record.name[:-len(".seconds")]).relative_to(folder)
        out[str(source)] = float(record.read_text())
    return out


def execute_one(source: pathlib.Path, timeout: int = 300,
                folder: pathlib.Path = EXECUTED) -> tuple[pathlib.Path, float, str]:
    import nbformat
    from nbclient import NotebookClient

    stale = saved_path(source, folder)                 # never leave an older run's result behind
    stale.unlink(missing_ok=True)
    stale.with_name(stale.name + ".seconds").unlink(missing_ok=True)
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:                   # the build executes it again and reports it
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        return source, time.perf_counter() - start, first_line[:300]
    seconds = time.perf_counter() - start
    # the cache hashes the kernelspec and each cell's metadata, which nbclient rewrites
    # (timings): keep the source's, so the build finds this notebook in the cache
    original = nbformat.read(source, as_version=4)
    nb.metadata = original.metadata
    for cell, before in zip(nb.cells, original.cells):
        cell.metadata = before.metadata
    save(source, nb, seconds, folder)
    return source, seconds, ""


def run(sources: list[pathlib.Path], workers: int) -> int:
    os.environ.setdefault("GENMECH_MODE", "record")      # as the build's kernels see it
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    failed = 0
    start = time.perf_counter()
    print(f"executing {len(sources)} notebooks, {workers} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for source, seconds, error in pool.map(execute_one, sources):
            rel = source.resolve().relative_to(ROOT)
            print(f"  {rel}  {seconds:6.1f} s{'  FAILED: ' + error if error else ''}",
                  flush=True)
            failed += bool(error)
    print(f"executed in {time.perf_counter() - start:.0f} s wall"
          f"{f'; {failed} failed (the build runs them again and shows why)' if failed else ''}")
    return failed


def fill_cache(folder: pathlib.Path = EXECUTED, cache_dir: pathlib.Path = CACHE) -> int:
    """Empty ``cache_dir`` and cache every notebook saved under ``folder``."""
    from jupyter_cache import get_cache

    shutil.rmtree(cache_dir, ignore_errors=True)
    cache = get_cache(str(cache_dir))
    seconds = times(folder)
    n = 0
    for rel, secs in seconds.items():
        cache.cache_notebook_file(str(folder / rel), uri=str(ROOT / rel),
                                  data={"execution_seconds": secs},
                                  check_validity=False, overwrite=True)
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute notebooks in parallel, save them, fill the cache")
    r.add_argument("notebooks", nargs="*", help="default: every notebook under book/")
    r.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    sub.add_parser("cache", help="fill the build's cache from _build/executed")
    sub.add_parser("clean", help="remove _build/executed and the build's cache")
    args = ap.parse_args()
    if args.command == "clean":
        shutil.rmtree(EXECUTED, ignore_errors=True)
        shutil.rmtree(CACHE, ignore_errors=True)
        return 0
    if args.command == "run":
        sources = ([pathlib.Path(n).resolve() for n in args.notebooks] if args.notebooks
                   else book_notebooks())
        for s in sources:
            if not s.exists():
                raise SystemExit(f"{s} does not exist")
        run(sources, max(1, args.workers))
    print(f"cached {fill_cache()} executed notebooks in {CACHE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
