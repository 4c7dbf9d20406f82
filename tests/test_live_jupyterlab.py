"""A demo in a real JupyterLab: the widget shows, Play trains, Pause stops, the kernel answers.

Starts JupyterLab on 127.0.0.1 with a two-cell notebook, drives it in headless Chromium
like a reader, and reads the demo's status line. Runs in live mode (no GENMECH_MODE).
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "from genmech.optim import OptimizerRace\nrace = OptimizerRace()\nrace.show(steps=100)"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


KERNEL_IDLE = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return k && k.connectionStatus === 'connected' && k.status === 'idle'; }"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    (root / "live.ipynb").write_text(json.dumps(NOTEBOOK))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GENMECH_MODE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/api/status", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("JupyterLab did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def status_step(page):
    text = page.locator(".widget-html-content").filter(has_text="step").last.inner_text()
    return text, int(re.search(r"step (\d+)", text).group(1))


def test_demo_trains_live_in_jupyterlab(browser, lab):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab}/lab/tree/live.ipynb")
        page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')",
                               timeout=60000)
        page.wait_for_function(KERNEL_IDLE, timeout=180000)      # the kernel has started
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".js-plotly-plot", timeout=180000)       # the live figure
        play = page.get_by_role("button", name="Play")
        play.wait_for(timeout=30000)
        text, before = status_step(page)
        assert "paused" in text and before == 0
        play.click()
        page.wait_for_function(
            "() => /training/.test(Array.from(document.querySelectorAll('.widget-html-content'))"
            ".map(e => e.textContent).join(' '))", timeout=20000)
        page.wait_for_timeout(2000)
        _, during = status_step(page)
        assert during > 20, "training did not progress in the live kernel"
        # the live figure really redraws: the GD path (trace 1) has grown beyond its start
        # the live figure really redraws: at step 0 each path is one point; now they are lines
        page.wait_for_function(
            "() => Array.from(document.querySelector('.js-plotly-plot')"
            ".querySelectorAll('.scatterlayer path.js-line'))"
            ".map(p => (p.getAttribute('d') || '').split('L').length - 1)"
            ".reduce((a, b) => a + b, 0) > 40", timeout=10000)
        # the kernel still executes other code while the demo trains
        answer = page.evaluate("""async () => {
            const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            let text = '';
            const future = k.requestExecute({code: "print('kernel answers at step', race.steps)"});
            future.onIOPub = msg => { if (msg.header.msg_type === 'stream') text += msg.content.text; };
            await Promise.race([future.done, new Promise(r => setTimeout(r, 60000))]);
            return text; }""")
        assert "kernel answers at step" in answer and int(answer.split()[-1]) > 0
        page.get_by_role("button", name="Pause").click()
        page.wait_for_function(
            "() => /paused/.test(Array.from(document.querySelectorAll('.widget-html-content'))"
            ".map(e => e.textContent).join(' '))", timeout=20000)
        _, paused = status_step(page)
        page.wait_for_timeout(1000)
        _, later = status_step(page)
        assert later == paused, "Pause did not stop training"
        page.screenshot(path=str(pytest.importorskip("pathlib").Path("_build") / "jupyterlab-live.png"))
    except Exception:
        page.screenshot(path="_build/jupyterlab-live-failure.png")
        raise
    finally:
        page.close()
