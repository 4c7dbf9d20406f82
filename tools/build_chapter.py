"""Build only some chapters of the book, fast, into _build/chapters/<name>/_build/html (for authors).

    python tools/build_chapter.py book/gans [book/vaes ...] [--name gans]

Writes a table of contents holding the introduction, the given chapters and the
references page, executes the chapters' notebooks side by side (tools/executed.py) and
builds with warnings as errors, exactly like `make book`.
Screenshot the result with: python tools/screenshot.py --site _build/chapters/<name>/_build/html PAGE
"""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def chapter_entry(folder: str) -> dict:
    folder = folder.rstrip("/")
    if not (ROOT / folder / "index.md").exists():
        raise SystemExit(f"{folder}/index.md is missing: every chapter needs an overview page")
    return {"file": f"{folder}/index", "sections": [{"glob": f"{folder}/[0-9]*"}]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("chapters", nargs="+")
    ap.add_argument("--name", default=None)
    args = ap.parse_args()
    name = args.name or pathlib.Path(args.chapters[0]).name
    toc = {"format": "jb-book", "root": "book/intro",
           "parts": [{"caption": "Chapters", "chapters": [chapter_entry(c) for c in args.chapters]},
                     {"caption": "Back matter", "chapters": [{"file": "book/references/index"}]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(toc, f)
    out = ROOT / "_build" / "chapters" / name   # jupyter-book adds _build/html below
    # execute the chapters' notebooks side by side, then let the build render them
    sys.path.insert(0, str(ROOT / "tools"))
    import executed
    notebooks = sorted(p for c in args.chapters for p in (ROOT / c).glob("[0-9]*.ipynb"))
    executed.run(notebooks, workers=os.cpu_count() or 1)
    executed.fill_cache(cache_dir=out / "_build" / ".jupyter_cache")
    cmd = [str(pathlib.Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--all",
           "-W", "--keep-going", "--toc", f.name, "--path-output", str(out)]
    print(" ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    print(f"\nsite: {out / '_build' / 'html'}  (rc={rc})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
