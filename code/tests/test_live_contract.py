"""The contract every live demo meets, checked on every :class:`~genmech.live.Demo`
subclass in genmech, found automatically: a new demo is covered without being listed.

* ``frame()`` has one entry per trace of ``figure()``; frames applied to the live figure
  leave it equal to a fresh ``figure()`` (the figure never lies while training);
* after a restart setting is changed through its control, and after Reset, the live
  figure equals a fresh ``figure()``, data and layout;
* a non-finite metric pauses the live view with a message;
* every extra action is counted and checked;
* Reset restores the seeded start exactly; demos own their random state, so two demos
  stepped in alternation give the numbers each gives alone, and the reader's global
  random numbers are untouched.

The live figure is driven by a fake frontend that acknowledges every frame, as the
browser does (and one that fails to draw, which must not freeze the figure).
"""
from __future__ import annotations

import asyncio
import base64
import importlib
import json
import math
import pkgutil

import numpy as np
import pytest
import torch

import genmech
from genmech.live import Choice, Demo, LiveView

for _m in pkgutil.iter_modules(genmech.__path__):
    if _m.name != "sphinxext":
        importlib.import_module(f"genmech.{_m.name}")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


DEMOS = sorted({c for c in _subclasses(Demo) if c.__module__.startswith("genmech.")},
               key=lambda c: c.__name__)
STEPS = 3


def test_every_demo_of_the_book_is_found():
    assert len(DEMOS) >= 12, [d.__name__ for d in DEMOS]


def other_value(p, current):
    """A valid value of hyperparameter ``p`` other than ``current``."""
    if isinstance(p, Choice):
        return next(o for o in p.options if o != current and o != "yours")
    if p.integer:
        return int(p.low) if current != int(p.low) else int(p.high)
    return p.low if current != p.low else p.high


def figure_json(fig) -> dict:
    """A figure as plain JSON, without the width the view chooses for a figure that has none."""
    if hasattr(fig, "to_figure"):
        fig = fig.to_figure()
    d = _plain(fig.to_plotly_json())
    d["layout"].pop("width", None)
    d.pop("frames", None)
    return d


def _plain(obj):
    if isinstance(obj, dict) and "bdata" in obj and "dtype" in obj:     # plotly's typed array
        array = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
        if "shape" in obj:
            array = array.reshape([int(n) for n in str(obj["shape"]).split(",")])
        return _plain(array)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def assert_same_figure(live, fresh, what):
    a, b = figure_json(live), figure_json(fresh)
    assert len(a["data"]) == len(b["data"]), f"{what}: {len(a['data'])} traces drawn, {len(b['data'])} in figure()"
    for i, (ta, tb) in enumerate(zip(a["data"], b["data"])):
        assert _close(ta, tb), f"{what}: trace {i} ({tb.get('name')}) differs from a fresh figure()"
    assert _close(a["layout"], b["layout"]), f"{what}: layout differs from a fresh figure()"


def _close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        try:
            x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        except (TypeError, ValueError):
            return len(a) == len(b) and all(_close(u, v) for u, v in zip(a, b))
        # any non-finite value is a gap in the drawing (JSON sends null, binary NaN or inf)
        x, y = np.where(np.isfinite(x), x, np.nan), np.where(np.isfinite(y), y, np.nan)
        return x.shape == y.shape and np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True)
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-5, abs_tol=1e-6)
        except (TypeError, ValueError):
            return False
    return a == b


class Frontend:
    """A fake browser for the live figures of a view: it records each frame and
    acknowledges it (``drawn``), as the real one does after drawing it."""

    def __init__(self, view, fail=False):
        self.frames = []
        for fig in (view.fig, view.curve):
            fig.send = lambda msg, buffers=None, fig=fig: self.receive(fig, msg)
        self.fail = fail

    def receive(self, fig, msg):
        json.dumps(msg, allow_nan=False)          # frames are strict JSON (NaN -> null)
        self.frames.append(msg)
        fig._answer(fig, {"type": "drawn"}, [])   # a failed draw is acknowledged too


def view_of(demo, key):
    view = LiveView(demo, key=key)
    Frontend(view)
    return view


@pytest.fixture(params=DEMOS, ids=lambda c: c.__name__)
def demo_class(request):
    return request.param


def test_frame_has_one_entry_per_trace(demo_class):
    demo = demo_class()
    demo.step(STEPS)
    assert len(demo.frame()) == len(demo.figure().data)
    curves = demo.metric_figure()
    assert len(demo.metric_frame()) == len(curves.data)


def test_frames_keep_the_live_figure_equal_to_figure(demo_class):
    view = view_of(demo_class(), f"frames-{demo_class.__name__}")
    resends = []
    for fig in (view.fig, view.curve):
        fig.observe(lambda change: resends.append(change), names="figure")
    for _ in range(6):
        view.demo.step(STEPS)
        view.draw()
    # training sends diffs: the main figure is never resent whole, and the curves only when
    # a metric appears (a metric computed every few steps, say)
    assert len(resends) <= 2, f"{len(resends)} whole figures resent while training"
    assert_same_figure(view.fig, view._main_figure(), "after training frames")
    assert_same_figure(view.curve, view._curve_figure(), "metric curves after training frames")


def test_restart_settings_and_reset_redraw_everything(demo_class):
    demo = demo_class()
    view = view_of(demo, f"restart-{demo_class.__name__}")
    demo.step(STEPS)
    view.draw()
    for p in (p for p in demo.params if p.restart):
        view.controls[p.name].value = other_value(p, demo.hp[p.name])
        assert not view.message, view.message
        assert demo.steps == 0, f"{p.name} should restart"
        assert_same_figure(view.fig, view._main_figure(), f"after changing {p.name}")
        fresh = demo_class(**demo.hp)
        assert_same_figure(view.fig, LiveView(fresh, key="fresh")._main_figure(),
                           f"after changing {p.name}, against a new demo")
        view.buttons["Step"].click()
    view.buttons["Reset"].click()
    assert demo.steps == 0
    assert_same_figure(view.fig, view._main_figure(), "after Reset")


def test_non_restart_settings_keep_the_figure_true(demo_class):
    demo = demo_class()
    view = view_of(demo, f"apply-{demo_class.__name__}")
    demo.step(STEPS)
    for p in (p for p in demo.params if not p.restart):
        view.controls[p.name].value = other_value(p, demo.hp[p.name])
        assert not view.message, view.message
        assert_same_figure(view.fig, view._main_figure(), f"after changing {p.name}")


def test_reset_restores_the_seeded_start_exactly(demo_class):
    demo = demo_class(seed=3)
    start = figure_json(demo.figure())
    first = demo.step(STEPS)
    demo.reset()
    assert demo.steps == 0 and demo.metrics.last == {}
    assert _close(figure_json(demo.figure()), start)
    assert demo.step(STEPS) == first


def test_demos_own_their_random_state(demo_class):
    alone = demo_class(seed=1).step(STEPS)
    a, b = demo_class(seed=1), demo_class(seed=2)
    torch.manual_seed(123)
    for _ in range(STEPS):                      # in alternation, with other work between
        a.step(1)
        b.step(1)
        torch.rand(7)
    assert a.metrics.last == alone
    # the reader's global random numbers are untouched by the demos
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    demo_class(seed=4).step(STEPS)
    assert torch.equal(torch.rand(3), expected)


def test_non_finite_metric_pauses_the_live_view_with_a_message(demo_class):
    async def scenario():
        demo = demo_class()
        view = view_of(demo, f"nan-{demo_class.__name__}")
        good = demo.train_step
        demo.train_step = lambda: {**good(), "loss": float("nan")}
        view.play()
        for _ in range(200):
            if not view.playing:
                break
            await asyncio.sleep(0.01)
        assert not view.playing and demo.diverged
        assert "Diverged" in view.status.value
        view.play()                             # a diverged run does not train on
        assert not view.playing
    asyncio.run(scenario())


def test_actions_are_counted_and_checked(demo_class):
    demo = demo_class()
    view = view_of(demo, f"act-{demo_class.__name__}")
    for name in demo.actions():
        before = demo.counts.get(name, 0)
        view.buttons[name].click()
        assert demo.counts[name] == before + 1
        assert not view.message, view.message
    if demo.substeps():
        rounds = len(demo.substeps())
        for _ in range(rounds):
            demo.substep()
        assert demo.steps == 1                  # a full round of substeps is one step


def test_a_failed_draw_does_not_freeze_the_figure():
    demo = DEMOS[0]()
    view = LiveView(demo, key="fail")
    Frontend(view, fail=True)
    for _ in range(3):
        demo.step(1)
        view.draw()
    assert view.fig.frames_sent == 3 and not view.fig._in_flight


def test_back_pressure_one_frame_in_flight():
    demo = DEMOS[0]()
    view = LiveView(demo, key="pressure")
    sent = []
    view.fig.send = lambda msg, buffers=None: sent.append(msg)   # a browser that never answers
    for _ in range(5):
        demo.step(1)
        view.draw()
    assert len(sent) == 1                       # the rest wait for the acknowledgement
    view.fig._answer(view.fig, {"type": "drawn"}, [])
    assert len(sent) == 2                       # the newest data goes next, merged


def test_every_demo_says_what_divergence_means(demo_class):
    """A demo declares its divergence: ``blowup`` factors or a ``check`` of its own (an
    empty ``blowup`` says, in a comment beside it, why nothing can diverge)."""
    assert "blowup" in vars(demo_class) or demo_class.check is not Demo.check, \
        f"{demo_class.__name__} declares neither blowup nor check"
    demo = demo_class()
    demo.step(1)
    for name in demo.blowup:
        assert name in demo.metrics.last, f"blowup watches {name!r}, which the demo never reports"
