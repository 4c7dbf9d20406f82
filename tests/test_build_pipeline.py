"""One execution serves nbval and the site: the executed notebooks are what the build renders.

`make book` executes notebooks side by side (tools/executed.py) and `make test` keeps what
nbval executed (tools/nbval_executed.py); both put them in the build's jupyter-cache. This
only saves time if the build *finds* them there: the cache matches a notebook by a hash of
its code and metadata, which an executor must leave as they are in the source.
"""
import pathlib
import subprocess
import sys

import nbformat
import pytest
from jupyter_cache import get_cache

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import executed  # noqa: E402


@pytest.fixture
def notebook():
    """A two-cell notebook inside the repository (paths are kept relative to it)."""
    folder = ROOT / "_build" / "pipeline-test"
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page"),
                nbformat.v4.new_code_cell("x = 6 * 7\nprint('answer', x)"),
                nbformat.v4.new_code_cell("x", metadata={"tags": ["kept"]})]
    path = folder / "page.ipynb"
    nbformat.write(nb, path)
    return path


def cached_outputs(source: pathlib.Path, folder: pathlib.Path, cache_dir: pathlib.Path):
    assert executed.fill_cache(folder, cache_dir) == 1
    cache = get_cache(str(cache_dir))
    _, merged = cache.merge_match_into_notebook(nbformat.read(source, as_version=4))
    return [c.outputs for c in merged.cells if c.cell_type == "code"]


def test_a_notebook_executed_in_parallel_is_found_by_the_build(notebook, tmp_path):
    source, seconds, error = executed.execute_one(notebook, folder=tmp_path / "executed")
    assert error == "" and seconds > 0
    outputs = cached_outputs(notebook, tmp_path / "executed", tmp_path / "cache")
    assert outputs[0][0]["text"] == "answer 42\n"
    assert outputs[1][0]["data"]["text/plain"] == "42"
    assert executed.times(tmp_path / "executed") == {
        "_build/pipeline-test/page.ipynb": pytest.approx(seconds, abs=0.01)}


def test_a_notebook_nbval_executed_is_found_by_the_build(notebook, tmp_path):
    saved = tmp_path / "executed"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(notebook), "--nbval-lax", "--nbval-current-env",
         "-p", "no:cacheprovider", "-q", "-p", "nbval_executed", "--save-executed", str(saved)],
        cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "tools")},
        capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    outputs = cached_outputs(notebook, saved, tmp_path / "cache")
    assert outputs[0][0]["text"] == "answer 42\n"


def test_a_failing_notebook_is_not_saved(notebook, tmp_path):
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("1 / 0"))
    nbformat.write(nb, notebook)
    _, _, error = executed.execute_one(notebook, folder=tmp_path / "executed")
    assert "ZeroDivisionError" in error
    assert executed.times(tmp_path / "executed") == {}
