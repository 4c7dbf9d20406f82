"""A stateful random test of every live demo: a reader pressing every button and moving
every control through its whole range, in any order (Hypothesis's rule-based state
machines, over every :class:`~genmech.live.Demo` subclass found automatically).

Rules are the view's own actions: Play, Pause, Step, Reset, each extra action, slow
motion, Show code, the speed slider, every control set to its minimum, its maximum or any
value its widget can send, and a value typed far beyond a slider's range. Between them,
the event loop runs for a moment, so training really happens in the background.

Invariants after every rule: no exception escaped (ipywidgets' callback guard is turned
off, so an exception inside a button's handler fails the test, and a training error shown
as "Stopped: ..." fails it too); at most one training task; while paused, the drawn figure
equals a fresh ``figure()``; every frame is strict JSON; memory stays bounded.

``make test`` runs a few examples per demo; ``make fuzz`` runs 200
(``GENMECH_FUZZ_EXAMPLES``). Hypothesis keeps failing examples in its database
(``.hypothesis/``), so a failure found once is tried first next time.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import ipywidgets
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from test_live_contract import DEMOS, assert_same_figure  # noqa: E402  (tests' folder: conftest.py)

from genmech.live import Choice, LiveView  # noqa: E402

EXAMPLES = int(os.environ.get("GENMECH_FUZZ_EXAMPLES", "5"))
RULES = int(os.environ.get("GENMECH_FUZZ_RULES", "15"))


@pytest.fixture(autouse=True)
def callbacks_raise(monkeypatch):
    """ipywidgets logs and swallows an exception in a button handler; here it must fail."""
    def call(self, *args, **kwargs):
        value = None
        for callback in self.callbacks:
            result = callback(*args, **kwargs)
            value = result if result is not None else value
        return value
    monkeypatch.setattr(ipywidgets.widgets.widget.CallbackDispatcher, "__call__", call)


def widget_values(control, p):
    """Every kind of value the control's widget can send: its ends and points between."""
    if isinstance(p, Choice):
        return st.sampled_from([o for o in p.options])
    if isinstance(control, ipywidgets.FloatLogSlider):
        lo, hi, step = control.min, control.max, control.step
        n = int(round((hi - lo) / step))
        # what the browser sends: 10 ** (min + k * step), the maximum as 10 ** max
        return st.integers(0, n).map(lambda k: 10 ** min(hi, lo + k * step))
    if isinstance(control, ipywidgets.IntSlider):
        return st.integers(control.min, control.max)
    n = int(round((control.max - control.min) / control.step))
    return st.integers(0, n).map(lambda k: min(control.max, control.min + k * control.step))


def machine_for(demo_class):
    class DemoMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.view = LiveView(demo_class(), key=f"fuzz-{demo_class.__name__}")
            for fig in (self.view.fig, self.view.curve):
                fig.send = lambda msg, buffers=None, fig=fig: self._receive(fig, msg)

        def _receive(self, fig, msg):
            json.dumps(msg, allow_nan=False)               # strict JSON, or this raises
            self.loop.call_later(0.005, fig._answer, fig, {"type": "drawn"}, [])

        def teardown(self):
            self.view.close()
            self.loop.run_until_complete(asyncio.sleep(0.01))
            self.loop.close()
            asyncio.set_event_loop(None)

        # -- the reader's actions
        @rule(button=st.sampled_from(["Play", "Pause", "Step", "Reset"]))
        def press(self, button):
            self.view.buttons[button].click()

        @rule(data=st.data())
        def extra_action(self, data):
            names = [n for n in self.view.demo.actions()] + ["Show code"] * (self.view.demo.code() is not None)
            if names:
                self.view.buttons[data.draw(st.sampled_from(names))].click()

        @rule()
        def slow_motion(self):
            if self.view.slow is not None:
                self.view.slow.value = not self.view.slow.value

        @rule(speed=st.sampled_from(LiveView.SPEEDS))
        def speed(self, speed):
            self.view.speed.value = speed

        @rule(data=st.data())
        def move_a_control(self, data):
            params = self.view.demo.params
            if not params:
                return
            p = data.draw(st.sampled_from(params))
            control = self.view.controls[p.name]
            control.value = data.draw(widget_values(control, p))

        @rule(data=st.data())
        def type_far_too_large(self, data):
            sliders = [p for p in self.view.demo.params if not isinstance(p, Choice)]
            if sliders:
                p = data.draw(st.sampled_from(sliders))
                before = dict(self.view.demo.hp)
                self.view.set(**{p.name: p.high * 1000 + 1})
                assert self.view.demo.hp == before and "Not applied" in self.view.status.value

        @rule(seconds=st.sampled_from([0.0, 0.05, 0.2]))
        def wait(self, seconds):
            self.loop.run_until_complete(asyncio.sleep(seconds))

        # -- what must always hold
        @invariant()
        def nothing_broke(self):
            assert "Stopped:" not in self.view.message, self.view.message

        @invariant()
        def at_most_one_training_task(self):
            # a task cancelled by Pause may still be winding down: it no longer trains
            running = [t for t in asyncio.all_tasks(self.loop) if not t.done() and not t.cancelling()]
            assert len(running) <= 1
            if not self.view.playing:
                assert not running

        @invariant()
        def paused_figure_shows_the_model(self):
            if not self.view.playing:
                assert_same_figure(self.view.fig, self.view._main_figure(), "paused")

        @invariant()
        def memory_stays_bounded(self):
            demo = self.view.demo
            assert all(len(s.steps) <= demo.history + 1 for s in demo.metrics.series.values())
            assert len(self.view.fig._waiting) <= len(self.view.fig.data)

    DemoMachine.__name__ = f"{demo_class.__name__}Machine"
    return DemoMachine


@pytest.mark.parametrize("demo_class", DEMOS, ids=lambda c: c.__name__)
def test_every_control_at_every_value(demo_class):
    machine = machine_for(demo_class)
    machine.TestCase.settings = settings(
        max_examples=EXAMPLES, stateful_step_count=RULES, deadline=None,
        suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
