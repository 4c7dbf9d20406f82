"""Build only some chapters of the book, fast, into _build/chapters/<name>/_build/html (for authors).

    python tools/build_chapter.py book/gans [book/vaes ...] [--name gans]

Writes a table of contents holding the introduction, the given chapters and the
back matter (conclusion, timeline, FAQ, references), executes the chapters' notebooks side by side (tools/executed.py) and
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
    # the introduction links to the back matter, so it comes along (it is small)
    back = next(p for p in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]
                if p.get("caption") == "Back matter")
    toc = {"format": "jb-book", "root": "book/intro",
           "parts": [{"caption": "Chapters", "chapters": [chapter_entry(c) for c in args.chapters]},
                     back]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(toc, f)
    out = ROOT / "_build" / "chapters" / name   # jupyter-book adds _build/html below
    # execute the chapters' notebooks side by side, then let the build render them
    sys.path.insert(0, str(ROOT / "tools"))
    import executed
    notebooks = sorted(p for c in args.chapters for p in (ROOT / c).glob("[0-9]*.ipynb"))
    notebooks += [ROOT / (e["file"] + ".ipynb") for e in back["chapters"]
                  if (ROOT / (e["file"] + ".ipynb")).exists()]
    executed.run(notebooks, workers=os.cpu_count() or 1)
    executed.fill_cache(cache_dir=out / "_build" / ".jupyter_cache")
    cmd = [str(pathlib.Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--all",
           "--keep-going", "--toc", f.name, "--path-output", str(out)]
    print(" ".join(cmd), flush=True)
    # Warnings are errors, as in `make book`, except links from the introduction and the
    # back matter to chapters left out of this partial build.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    real = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        if "WARNING" in line and "unknown document" not in line:
            real.append(line.strip())
    rc = proc.wait() or (1 if real else 0)
    if real:
        print(f"\n{len(real)} warning(s) that `make book` would fail on:\n" + "\n".join(real))
    print(f"\nsite: {out / '_build' / 'html'}  (rc={rc})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
