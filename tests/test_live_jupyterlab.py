"""Every live demo of the book in a real JupyterLab, driven in headless Chromium like a reader.

One JupyterLab server and one notebook for the module, with one cell per demo; the demos
are found by themselves (every ``genmech`` module imported, every concrete ``Demo``
subclass), so a new demo is covered without being listed here. Runs in live mode (no
``GENMECH_MODE``). For each demo, in its own cell:

* the cell shows the widget and plotly.js draws the figure, equal to the kernel's
  ``demo.figure()`` (traces and their data, title, explicit axis ranges);
* Play trains (the step count of the status line grows, the drawn figure changes);
* the kernel answers another execute request while the demo trains;
* Pause stops training (the status says paused, the step count then stays put) and the
  drawn figure shows the paused model;
* a setting changed through its control in the page (a restart setting if the demo has
  one: a ``<select>`` for a Choice, the slider's editable readout for a Slider) and Reset
  both leave the drawn figure equal to a fresh ``demo.figure()``;
* re-running the cell while the demo trains closes the old view and its task: one view
  per cell stays alive and no training task is left running;
* (a second test) every slider and drop-down is wide enough to use.

Half the cells use ``demo.show(steps=...)`` (what the chapters write), the other half build
the view themselves (``demo.train``, then ``LiveView``). A screenshot of each demo's cell
goes to ``_build/jupyterlab/<Demo>.png``.
"""
import importlib
import json
import math
import os
import pkgutil
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "_build" / "jupyterlab"
STEPS = 5              # steps each cell trains before its view opens


# --------------------------------------------------------------------------- the demos
def all_demos():
    """Every concrete, public ``Demo`` subclass of the ``genmech`` package."""
    import genmech
    from genmech.live import Demo

    for module in pkgutil.iter_modules(genmech.__path__):
        importlib.import_module(f"genmech.{module.name}")   # an import error fails loudly

    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    found = {}
    for cls in walk(Demo):
        if (cls.__module__.startswith("genmech.") and not cls.__name__.startswith("_")
                and not cls.__module__.split(".")[-1].startswith("_")
                and cls.build is not Demo.build and cls.train_step is not Demo.train_step
                and cls.figure is not Demo.figure):
            found[cls.__name__] = cls
    return [found[name] for name in sorted(found, key=lambda n: (found[n].__module__, n))]


DEMOS = all_demos()
NAMES = [cls.__name__ for cls in DEMOS]
assert len(set(NAMES)) == len(NAMES), "two demos share a class name"


def uses_show(index: int) -> bool:
    """Even cells call ``demo.show(steps=...)``; odd cells build the ``LiveView`` themselves."""
    return index % 2 == 0


def cell_source(index: int, cls) -> str:
    name = cls.__name__
    lines = [f"from {cls.__module__} import {name}", f"demo_{name} = {name}()"]
    if uses_show(index):
        lines.append(f"demo_{name}.show(steps={STEPS})")
    else:
        lines = ["from genmech.live import LiveView"] + lines + [
            f"demo_{name}.train({STEPS})",
            f"view_{name} = LiveView(demo_{name})",
            f"display(view_{name}.widget)",
        ]
    return "\n".join(lines)


def setting_to_change(cls):
    """(param, new value): the first restart setting, else the first setting at all (a
    demo without restart settings still redraws in full after any change)."""
    from genmech.live import Choice

    params = [p for p in cls.params if p.restart] or list(cls.params)
    if not params:
        return None, None
    p = params[0]
    if isinstance(p, Choice):
        return p, next(o for o in p.options if o != p.default)
    # a value on the slider's grid (LiveView's sliders snap to it: a log slider moves in
    # tenths of a decade, a float slider in hundredths of its range, an int one by its step)
    if p.log:
        lo, hi, x = math.log10(p.low), math.log10(p.high), math.log10(p.default)
        step, to_value = 0.1, lambda e: 10 ** e
    else:
        lo, hi, x = p.low, p.high, p.default
        step = int(p.step or 1) if p.integer else (p.step or (p.high - p.low) / 100)
        to_value = (lambda e: int(round(e))) if p.integer else (lambda e: round(e, 10))
    k = round((x - lo) / step)
    jump = 1 if p.integer else 3 if p.log else max(1, round((hi - lo) / step / 4))
    k = k - jump if lo + (k - jump) * step >= lo else k + jump
    return p, p.validate(to_value(lo + k * step))


NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": cell_source(i, cls)}
        for i, cls in enumerate(DEMOS)
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}

# --------------------------------------------------------------------------- kernel side
# Run through the kernel (not as notebook cells): find a demo's live view, digest a figure.
KERNEL_HELPERS = r'''
import asyncio as _asyncio, base64 as _b64, json as _json, math as _math
import numpy as _np, plotly.io as _pio
import genmech.live as _live

def _views(name):
    """The live views of demo class `name` that are still open."""
    return [v for _, vs in _live._ACTIVE.values() for v in vs
            if type(v.demo).__name__ == name and not v.closed]

def _view(name):
    views = _views(name)
    assert len(views) == 1, f"{len(views)} open views of {name}"
    return views[0]

def _flat(v, out):
    if isinstance(v, dict) and "bdata" in v:
        v = _np.frombuffer(_b64.b64decode(v["bdata"]), dtype=_np.dtype(v["dtype"])).tolist()
    if isinstance(v, (list, tuple)):
        for e in v:
            _flat(e, out)
    else:
        out.append(v)
    return out

def _summary(values):
    nums, strs, nulls = [], [], 0
    for e in values:
        if e is None or (isinstance(e, float) and _math.isnan(e)):
            nulls += 1
        elif isinstance(e, (bool, int, float)):
            nums.append(float(e))
        else:
            strs.append(str(e))
    s = a = 0.0
    for x in nums:
        s += x
        a += abs(x)
    return dict(n=len(values), nulls=nulls, s=s, a=a, first=nums[0] if nums else None,
                last=nums[-1] if nums else None, str="|".join(strs)[:300])

def _digest(fig):
    j = _json.loads(_pio.to_json(fig, validate=False))
    traces = []
    for t in j["data"]:
        d = {"type": t.get("type"), "name": t["name"] if isinstance(t.get("name"), str) else None}
        for k in ("x", "y", "z"):
            if t.get(k) is not None:
                d[k] = _summary(_flat(t[k], []))
        traces.append(d)
    lay = j.get("layout", {})
    title = lay.get("title")
    title = title.get("text") if isinstance(title, dict) else title
    axes = {k: v for k, v in lay.items() if k[:5] in ("xaxis", "yaxis") and isinstance(v, dict)}
    # plotly.js widens one axis of a pair tied by scaleanchor (equal aspect): skip both
    tied = {a for k, v in axes.items() if v.get("scaleanchor")
            for a in (k, v["scaleanchor"][0] + "axis" + v["scaleanchor"][1:])}
    ranges = {k: v["range"] for k, v in axes.items()
              if v.get("range") is not None and not v.get("autorange") and k not in tied}
    return {"traces": traces, "title": title, "ranges": ranges}

def _fresh_digest(name):
    """The digest of a fresh figure() of the demo shown in the open view of `name`."""
    with _live.untouched_random_state():
        return _digest(_view(name).demo.figure())

def _training_tasks():
    """Live-view training tasks still running on the kernel's event loop."""
    loop = _asyncio.get_event_loop()
    return [t for t in _asyncio.all_tasks(loop)
            if not t.done() and "LiveView._run" in repr(t.get_coro())]

def _say(value):
    print("@@" + _json.dumps(value))
'''

# --------------------------------------------------------------------------- browser side
KERNEL_IDLE = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return k && k.connectionStatus === 'connected' && k.status === 'idle'; }"""

EXECUTE = """async ([code, timeout]) => {
    const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    let out = '', error = null;
    const started = performance.now();
    const future = k.requestExecute({code, silent: false, store_history: false});
    future.onIOPub = msg => {
        const t = msg.header.msg_type;
        if (t === 'stream') out += msg.content.text;
        else if (t === 'error') error = msg.content.ename + ': ' + msg.content.evalue;
    };
    const done = await Promise.race([future.done.then(() => true, () => true),
                                     new Promise(r => setTimeout(() => r(false), timeout))]);
    return {out, error, done, seconds: (performance.now() - started) / 1000}; }"""

RUN_CELL = """i => {
    const panel = window.jupyterapp.shell.currentWidget;
    panel.content.activeCellIndex = i;
    panel.content.deselectAll();
    window.jupyterapp.commands.execute('notebook:run-cell');
    return true; }"""

# The status line of the view in cell i: "paused — step 5: ..." / "training… — step 9: ..."
STATUS = """i => {
    const widget = window.jupyterapp.shell.currentWidget.content.widgets[i];
    const cell = widget.node;
    const error = widget.model.outputs.toJSON().find(o => o.output_type === 'error');
    if (error) return {state: 'error', step: null, text: `${error.ename}: ${error.evalue}`};
    for (const e of cell.querySelectorAll('.widget-html-content')) {
        const m = /^(paused|training…) — step (\\d+)/.exec(e.textContent.trim());
        if (m) return {state: m[1], step: +m[2], text: e.textContent.trim()};
    }
    const texts = Array.from(cell.querySelectorAll('.widget-html-content')).map(e => e.textContent);
    return {state: null, step: null, text: texts.join(' / ')}; }"""

# A digest of the first drawn plotly figure of cell i (the demo's figure; the second is
# the metric curves), the same as the kernel's _digest of a go.Figure.
DIGEST = """i => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[i].node;
    const gd = cell.querySelector('.js-plotly-plot');
    if (!gd || !gd.data || !gd.querySelector('.main-svg')) return null;
    const TYPES = {f8: Float64Array, f4: Float32Array, i1: Int8Array, u1: Uint8Array,
                   i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array};
    const decode = v => {
        const bin = atob(v.bdata), bytes = new Uint8Array(bin.length);
        for (let j = 0; j < bin.length; j++) bytes[j] = bin.charCodeAt(j);
        return new TYPES[v.dtype](bytes.buffer);
    };
    const flat = (v, out) => {
        if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
            && v.bdata !== undefined) v = decode(v);
        if (Array.isArray(v) || ArrayBuffer.isView(v)) { for (const e of v) flat(e, out); }
        else out.push(v === undefined ? null : v);
        return out;
    };
    const summary = values => {
        const nums = [], strs = []; let nulls = 0;
        for (const e of values) {
            if (e === null || (typeof e === 'number' && isNaN(e))) nulls++;
            else if (typeof e === 'number' || typeof e === 'boolean') nums.push(+e);
            else strs.push(String(e));
        }
        let s = 0, a = 0;
        for (const x of nums) { s += x; a += Math.abs(x); }
        return {n: values.length, nulls, s, a, first: nums.length ? nums[0] : null,
                last: nums.length ? nums[nums.length - 1] : null, str: strs.join('|').slice(0, 300)};
    };
    const traces = gd.data.map(t => {
        const d = {type: t.type, name: typeof t.name === 'string' ? t.name : null};
        for (const k of ['x', 'y', 'z']) {
            if (t[k] !== undefined && t[k] !== null) d[k] = summary(flat(t[k], []));
        }
        return d;
    });
    const title = gd.layout.title;
    return {traces, title: title && typeof title === 'object' ? (title.text ?? null) : (title ?? null),
            ranges: Object.fromEntries(Object.entries(gd.layout)
                .filter(([k, v]) => /^[xy]axis/.test(k) && v && v.range)
                .map(([k, v]) => [k, Array.from(v.range)]))}; }"""


def execute(page, code, timeout=120):
    """Run code in the notebook's kernel (as JupyterLab would); the values it `_say`s."""
    reply = page.evaluate(EXECUTE, [code, timeout * 1000])
    assert reply["done"], f"the kernel did not answer within {timeout} s: {code!r}"
    assert reply["error"] is None, f"kernel error: {reply['error']}\nin: {code}"
    said = [json.loads(line[2:]) for line in reply["out"].splitlines() if line.startswith("@@")]
    return said, reply["seconds"]


def ask(page, expression, timeout=120):
    said, _ = execute(page, f"_say({expression})", timeout)
    return said[-1]


def wait_until(predicate, timeout, what, interval=0.2):
    """Poll ``predicate`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def button(cell, label):
    """The button labelled ``label`` (its accessible name also holds the icon's glyph)."""
    return cell.locator("button", has_text=re.compile(rf"^\s*{label}\s*$"))


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def differences(drawn, kernel):
    """How the drawn figure differs from the kernel's digest ([] when equal)."""
    if drawn is None:
        return ["no drawn figure"]
    out = []
    if len(drawn["traces"]) != len(kernel["traces"]):
        out.append(f"{len(drawn['traces'])} traces drawn, {len(kernel['traces'])} in figure()")
    for i, (d, k) in enumerate(zip(drawn["traces"], kernel["traces"])):
        if (d["type"], d["name"]) != (k["type"], k["name"]):
            out.append(f"trace {i}: drawn {d['type']} {d['name']!r}, figure() {k['type']} {k['name']!r}")
        for key in ("x", "y", "z"):
            if (key in d) != (key in k):
                out.append(f"trace {i}.{key}: drawn has it {key in d}, figure() has it {key in k}")
            elif key in d:
                dd, kk = d[key], k[key]
                if (dd["n"], dd["nulls"], dd["str"]) != (kk["n"], kk["nulls"], kk["str"]) or not all(
                        close(dd[f], kk[f]) for f in ("s", "a", "first", "last")):
                    out.append(f"trace {i}.{key}: drawn {dd}, figure() {kk}")
    if drawn["title"] != kernel["title"]:
        out.append(f"title: drawn {drawn['title']!r}, figure() {kernel['title']!r}")
    for axis, rng in kernel["ranges"].items():
        got = drawn["ranges"].get(axis)
        if not got or len(got) != len(rng) or not all(
                isinstance(g, (int, float)) and close(g, r) for g, r in zip(got, rng)):
            out.append(f"{axis}.range: drawn {got}, figure() {rng}")
    return out


# --------------------------------------------------------------------------- fixtures
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_settings(folder: Path) -> None:
    """A fresh JupyterLab settings folder: every cell kept in the page (no windowing, so a
    cell's widgets are in the DOM wherever it is scrolled), no news or update checks."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }
    for path, value in settings.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(json.dumps(value))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    (root / "live.ipynb").write_text(json.dumps(NOTEBOOK))
    user_settings(root.parent / "lab-settings")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GENMECH_MODE"}
    env["JUPYTERLAB_SETTINGS_DIR"] = str(root.parent / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(root.parent / "lab-workspaces")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/api/status", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("JupyterLab did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def notebook(browser, lab):
    """The notebook open in JupyterLab, its kernel started and the test helpers defined.
    Yields (page, console errors so far)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{lab}/lab/tree/live.ipynb")
        page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')",
                               timeout=90000)
        page.wait_for_function(KERNEL_IDLE, timeout=180000)      # the kernel has started
        execute(page, KERNEL_HELPERS, timeout=180)
        yield page, errors
    finally:
        page.close()


# --------------------------------------------------------------------------- the test
TIMINGS = {}         # per demo: seconds each stage took (written to timings.json)


@pytest.fixture(scope="module", autouse=True)
def report_timings():
    yield
    if TIMINGS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1))


@pytest.mark.parametrize("index", range(len(DEMOS)), ids=NAMES)
def test_demo_lives_in_jupyterlab(notebook, index):
    page, errors = notebook
    cls = DEMOS[index]
    name = cls.__name__
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    times = TIMINGS.setdefault(name, {"path": "show" if uses_show(index) else "LiveView"})
    start = time.monotonic()
    first_error = len(errors)

    def status():
        return page.evaluate(STATUS, index)

    def drawn():
        return page.evaluate(DIGEST, index)

    def drawn_equals_kernel(when, timeout=30):
        kernel = ask(page, f"_fresh_digest({name!r})")
        try:
            wait_until(lambda: not differences(drawn(), kernel), timeout, when)
        except AssertionError:
            diff = "\n  ".join(differences(drawn(), kernel))
            raise AssertionError(f"{name}: {when}: the drawn figure is not figure():\n  {diff}")
        return kernel

    def wait_status(state, timeout, step=None):
        def ok():
            s = status()
            assert s["state"] != "error", f"{name}: the cell raised {s['text']}"
            return s["state"] == state and (step is None or s["step"] == step) and s
        at = f" at step {step}" if step is not None else ""
        return wait_until(ok, timeout, f"{name}: status {state!r}{at}")

    try:
        # -- the cell shows the widget; plotly.js draws the demo's figure
        page.evaluate(RUN_CELL, index)
        wait_status("paused", 180, step=STEPS)
        wait_until(drawn, 60, f"{name}: a drawn plotly figure")
        initial = drawn_equals_kernel("as first shown")
        times["shown_s"] = round(time.monotonic() - start, 1)

        # -- Play trains: the step count grows and the drawn figure changes
        button(cell, "Play").click()
        t0 = time.monotonic()
        wait_status("training…", 30)
        wait_until(lambda: (status()["step"] or 0) > STEPS + 2, 60,
                   f"{name}: the step count to grow")
        wait_until(lambda: differences(drawn(), initial), 60, f"{name}: the drawn figure to change")
        times["play_s"] = round(time.monotonic() - t0, 1)

        # -- the kernel answers another request while the demo trains
        said, seconds = execute(
            page, f"_say([_view({name!r}).playing, _view({name!r}).demo.steps])", 60)
        playing, steps = said[-1]
        assert playing and steps > STEPS, f"{name}: the kernel answered, but the demo was not training"
        times["kernel_answer_s"] = round(seconds, 2)
        assert status()["state"] == "training…"

        # -- Pause stops: the status says paused, the step count stays put
        button(cell, "Pause").click()
        t0 = time.monotonic()
        wait_status("paused", 30)
        times["pause_s"] = round(time.monotonic() - t0, 2)
        # a slice lasts at most Demo.slice_seconds (0.1 s): Pause answers within a second,
        # with room here for a busy machine (the click and the status travel through the server)
        assert times["pause_s"] < 3, f"{name}: Pause took {times['pause_s']} s to show"
        paused = ask(page, f"[_view({name!r}).demo.steps, _view({name!r}).task.done(), "
                           "len(_training_tasks())]")
        assert paused[1] and paused[2] == 0, f"{name}: a training task still runs after Pause"
        assert status()["step"] == paused[0], f"{name}: the status line shows another step than the demo"
        page.wait_for_timeout(1000)        # give a task that should have stopped a chance to move
        assert ask(page, f"_view({name!r}).demo.steps") == paused[0], (
            f"{name}: training went on after Pause")
        assert status()["step"] == paused[0]
        # after Pause the figure shows the paused model (the last slice included)
        drawn_equals_kernel(f"after Pause at step {paused[0]}", timeout=15)
        cell.screenshot(path=str(SHOTS / f"{name}.png"))

        # -- a setting changed in the page: the drawn figure is a fresh figure()
        param, new = setting_to_change(cls)
        if param is not None:
            label = param.label or param.name
            exact_label = re.compile(rf"^\s*{re.escape(label)}\s*$")
            if hasattr(param, "options"):           # a Choice is a <select>
                box = cell.locator(".widget-dropdown").filter(
                    has=page.locator("label", has_text=exact_label))
                box.locator("select").select_option(label=str(new))
            else:                                   # a slider: type into its readout
                box = cell.locator(".widget-slider").filter(
                    has=page.locator("label", has_text=exact_label))
                readout = box.locator(".widget-readout")
                readout.click()
                page.keyboard.press("Control+A")
                page.keyboard.type(f"{new:g}")
                page.keyboard.press("Enter")
            value = f"_view({name!r}).demo.hp[{param.name!r}]"
            wait_until(lambda: ask(page, value) != param.default, 30,
                       f"{name}: {param.name} to change in the kernel")
            got = ask(page, value)
            assert close(got, new) if not hasattr(param, "options") else got == new, (
                f"{name}: set {param.name} to {new!r} in the page, the demo has {got!r}")
            expect = 0 if param.restart else paused[0]   # a restart starts again
            wait_status("paused", 30, step=expect)
            changed = drawn_equals_kernel(f"after {param.name} = {new!r}")
            if param.restart:
                assert differences(changed, initial), (
                    f"{name}: {param.name} = {new!r} left the figure as it was")
            times["setting"] = f"{param.name}: {param.default!r} -> {new!r}"

        # -- Reset: step 0, and the figure is a fresh figure()
        button(cell, "Reset").click()
        wait_status("paused", 30, step=0)
        drawn_equals_kernel("after Reset")

        # -- re-running the cell while training leaves no task behind
        button(cell, "Play").click()
        wait_until(lambda: (status()["step"] or 0) > 1, 60, f"{name}: training again after Reset")
        execute(page, f"_old = _view({name!r}); assert _old.playing")
        page.evaluate(RUN_CELL, index)
        wait_until(lambda: ask(page, f"[v is not _old for v in _views({name!r})] == [True]"), 180,
                   f"{name}: the re-run cell to show a new view")
        wait_status("paused", 60, step=STEPS)
        wait_until(drawn, 60, f"{name}: the re-run cell's figure drawn")
        old = ask(page, "[_old.closed, _old.playing, _old.task is None or _old.task.done(), "
                        "len([v for v in _live._ACTIVE[_old.key][1] if not v.closed]), "
                        "len(_training_tasks())]")
        assert old[0] and not old[1] and old[2], (
            f"{name}: the old view still lives after a re-run (closed, playing, task done): {old}")
        assert old[3] == 1, f"{name}: {old[3]} open views in the re-run cell"
        assert old[4] == 0, f"{name}: {old[4]} training tasks still run after the re-run"
        drawn_equals_kernel("after re-running the cell")

        bad = [e for e in errors[first_error:] if "genmech" in e or "plotly" in e.lower()]
        assert not bad, f"{name}: errors in the browser console: {bad}"
        times["total_s"] = round(time.monotonic() - start, 1)
    except Exception:
        page.screenshot(path=str(SHOTS / f"{name}-failure.png"))
        raise
    finally:   # whatever happened, leave nothing training for the next demo
        try:
            execute(page, "for _vs in _live._ACTIVE.values():\n    for _v in _vs[1]: _v.pause()", 60)
        except Exception:
            pass


# Controls too narrow to use: each slider's track and each drop-down's box, in pixels.
CONTROL_WIDTHS = """i => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[i].node;
    const width = e => e ? Math.round(e.getBoundingClientRect().width) : 0;
    const label = box => (box.querySelector('.widget-label') || {}).textContent || '?';
    return [
        ...Array.from(cell.querySelectorAll('.widget-slider')).map(
            b => ['slider', label(b), width(b.querySelector('.slider-container'))]),
        ...Array.from(cell.querySelectorAll('.widget-dropdown')).map(
            b => ['drop-down', label(b), width(b.querySelector('select'))]),
    ]; }"""
MIN_WIDTH = 60
# A long label once squeezed a slider's track to 0-53 px (LiveView now sizes each control's
# box to its label).


@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_every_control_is_wide_enough_to_use(notebook, index):
    """A reader can drag every slider and open every drop-down: none is squeezed to nothing
    by its label (read from the view the first test left in the demo's cell)."""
    page, _ = notebook
    name = NAMES[index]
    if page.evaluate(STATUS, index)["state"] != "paused":
        pytest.skip(f"test_demo_lives_in_jupyterlab[{name}] did not leave a view in its cell")
    controls = page.evaluate(CONTROL_WIDTHS, index)
    TIMINGS.setdefault(name, {})["control_widths"] = controls
    assert len(controls) >= len(DEMOS[index].params), f"{name}: a control is missing: {controls}"
    narrow = [c for c in controls if c[2] < MIN_WIDTH]
    assert not narrow, f"{name}: controls narrower than {MIN_WIDTH} px (kind, label, width): {narrow}"
