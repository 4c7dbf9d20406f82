"""A pytest plugin: keep what nbval executed, so the site build need not execute it again.

    pytest book --nbval-lax -p nbval_executed --save-executed _build/executed   # (tools/ on sys.path)

nbval runs each notebook's cells in a kernel and compares the checked ones with the
outputs committed in the notebook. This plugin collects every cell's fresh outputs and,
when a notebook has run through with no cell failing, writes it, executed, where
``tools/executed.py`` looks for notebooks to put in the build's cache. ``make test`` thus
executes each notebook once for both nbval's check and the site, as the site is built
(``GENMECH_MODE=record``). A notebook with a failing cell is not saved: the build then
executes it itself and shows the error too.
"""
from __future__ import annotations

import copy
import pathlib
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import executed  # noqa: E402

_started: dict[str, float] = {}
_outputs: dict[str, dict[int, list]] = {}
_failed: set[str] = set()


def pytest_addoption(parser):
    parser.addoption("--save-executed", default=None, metavar="FOLDER",
                     help="save each notebook that nbval ran with no failing cell, executed")


def _is_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def _key(item) -> str:
    return str(item.parent.fspath)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _is_cell(item) and item.config.getoption("save_executed"):
        _started.setdefault(_key(item), time.perf_counter())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not (_is_cell(item) and item.config.getoption("save_executed")):
        return
    report = outcome.get_result()
    if report.failed or report.skipped:
        _failed.add(_key(item))
    if call.when == "call":
        _outputs.setdefault(_key(item), {})[item.cell_num] = item.test_outputs


def pytest_runtest_teardown(item, nextitem):
    folder = _is_cell(item) and item.config.getoption("save_executed")
    if not folder or (nextitem is not None and getattr(nextitem, "parent", None) is item.parent):
        return
    key = _key(item)                               # the last cell of this notebook has run
    seconds = time.perf_counter() - _started.pop(key, time.perf_counter())
    outputs = _outputs.pop(key, {})
    nb = copy.deepcopy(item.parent.nb)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    if key in _failed or len(outputs) != len(cells) or any(o is None for o in outputs.values()):
        _failed.discard(key)
        return
    for number, cell in enumerate(cells):
        cell.outputs = outputs[number]
        cell.execution_count = number + 1
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = number + 1
    executed.save(pathlib.Path(key), nb, seconds, folder=pathlib.Path(folder).resolve())
