"""Execute notebooks and keep only the outputs that nbval checks.

    python tools/store_checked_outputs.py book/gans/*.ipynb

nbval compares a cell tagged ``nbval-check-output`` against the output stored in the
notebook: a checked cell stored without output checks nothing. This runs each notebook
as the build does (GENMECH_MODE=record), stores the outputs and execution counts of the
checked cells, and clears every other output and any saved widget state.
"""
from __future__ import annotations

import os
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

CHECK = "nbval-check-output"


def store(path: pathlib.Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if CHECK not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def main(paths):
    os.environ["GENMECH_MODE"] = "record"
    for p in paths:
        seconds = store(pathlib.Path(p))
        print(f"{p:<60} {seconds:6.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
