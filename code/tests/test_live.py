"""The live-or-recorded demo framework, driven without a frontend."""
import asyncio
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from genmech.live import Choice, Demo, LiveView, MetricHistory, Recording, Series, Slider, mode
from waiting import until


class LineFit(Demo):
    """Fit y = 3x - 1 by gradient descent: the smallest demo that really learns."""

    title = "Line fit"
    params = (Slider("lr", 1e-3, 10.0, 0.1, log=True), Choice("noise", (0.0, 0.1), 0.1))

    def build(self):
        self.x = torch.linspace(-1, 1, 64)
        self.y = 3 * self.x - 1 + self.hp["noise"] * torch.randn(64)
        self.w = torch.zeros(2, requires_grad=True)
        self.opt = torch.optim.SGD([self.w], lr=self.hp["lr"])

    def apply(self, changed):
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]

    def train_step(self):
        loss = ((self.w[0] * self.x + self.w[1] - self.y) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def figure(self):
        fig = go.Figure()
        fig.add_scatter(x=self.x.numpy(), y=self.y.numpy(), mode="markers")
        fig.add_scatter(mode="lines", **self.frame()[1])
        return fig

    def frame(self):
        w = self.w.detach().numpy()
        xs = np.array([-1.0, 1.0])
        return [None, dict(x=xs, y=w[0] * xs + w[1])]


def run(coro):
    return asyncio.run(coro)


def test_headless_training_learns():
    demo = LineFit()
    first = demo.step(1)["loss"]
    last = demo.step(300)["loss"]
    assert demo.steps == 301
    assert first > 1.0 and last < 0.02   # noise variance is 0.01


def test_same_seed_same_run_and_reset_restarts():
    a, b = LineFit(seed=3), LineFit(seed=3)
    assert a.step(50) == b.step(50)
    a.reset()
    assert a.steps == 0 and a.metrics.last == {}
    assert a.step(50) == b.metrics.last


def test_bad_arguments_raise_readable_errors():
    with pytest.raises(ValueError, match="lr must be between"):
        LineFit(lr=100.0)
    with pytest.raises(ValueError, match="has no hyperparameter 'momentum'"):
        LineFit(momentum=0.9)
    with pytest.raises(ValueError, match="noise must be one of"):
        LineFit().set(noise=0.5)
    with pytest.raises(TypeError, match="lr must be a number"):
        LineFit(lr="fast")
    with pytest.raises(ValueError, match="non-negative int"):
        LineFit().step(-1)


def test_divergence_is_reported_not_raised():
    demo = LineFit(lr=10.0)
    demo.step(500)
    assert demo.diverged
    assert demo.steps < 500
    assert "Diverged" in demo.status and "smaller learning rate" in demo.status
    demo.set(lr=0.1)          # a change after divergence restarts cleanly
    assert not demo.diverged and demo.steps == 0
    assert demo.step(300)["loss"] < 0.02


def test_set_applies_without_restart_unless_needed():
    demo = LineFit()
    demo.step(10)
    demo.set(lr=0.2)          # lr: applied in place
    assert demo.steps == 10 and demo.opt.param_groups[0]["lr"] == 0.2
    demo.set(noise=0.0)       # data: Choice restarts
    assert demo.steps == 0


def test_history_is_capped_but_spans_the_run():
    series = Series(cap=100)
    for step in range(1, 100_001):
        series.append(step, float(step))
    assert len(series.steps) <= 100
    assert series.steps[0] <= 1024 and series.steps[-1] > 99_000
    h = MetricHistory(cap=50)
    for step in range(1, 5001):
        h.append(step, {"loss": 1.0 / step})
    assert len(h["loss"]) <= 50 and h.last["loss"] == pytest.approx(1 / 5000)


def test_record_makes_a_playable_animation():
    rec = LineFit().record(steps=120, frames=12)
    assert isinstance(rec, Recording)
    assert len(rec.figure.frames) == 13       # step 0 and 12 snapshots
    assert [f.name for f in rec.figure.frames][:2] == ["0", "10"]
    assert rec.figure.layout.updatemenus[0].buttons[0].label.endswith("Play")
    assert rec.figure.layout.sliders[0].active == 12
    first, last = rec.figure.frames[0].data[0].y, rec.figure.frames[-1].data[0].y
    assert not np.allclose(first, last)        # the line moved
    assert rec.final["loss"] < 0.05 and "loss = " in rec.caption


def test_mode_reads_environment(monkeypatch):
    monkeypatch.setenv("GENMECH_MODE", "record")
    assert mode() == "record"
    monkeypatch.setenv("GENMECH_MODE", "sideways")
    with pytest.raises(ValueError):
        mode()


def test_live_view_trains_in_background_and_pauses():
    async def scenario():
        view = LiveView(LineFit(), key="bg")
        view.buttons["Play"].click()
        assert await until(lambda: view.demo.steps > 20 and view.frames_drawn >= 3)
        assert view.playing                     # the figure refreshed while training
        y_before = view.fig.data[1].y
        view.buttons["Pause"].click()
        await asyncio.sleep(0.01)
        steps = view.demo.steps
        await asyncio.sleep(0.2)
        assert view.demo.steps == steps and view.task.done()
        assert "paused" in view.status.value
        assert y_before is not None and view.demo.metrics.last["loss"] < 1.0
    run(scenario())


def test_other_work_runs_while_training():
    async def scenario():
        view = LiveView(LineFit(), key="responsive")
        view.play()
        ticks = 0
        for _ in range(20):                     # another "cell" doing its own work
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and view.demo.steps > 0
        view.pause()
    run(scenario())


def test_rerunning_a_cell_stops_the_old_demo():
    async def scenario():
        old = LiveView(LineFit(), key="same-cell")
        old.play()
        await asyncio.sleep(0.05)
        new = LiveView(LineFit(), key="same-cell")
        await asyncio.sleep(0.01)
        assert not old.playing and old.task.done()
        steps = old.demo.steps
        await asyncio.sleep(0.1)
        assert old.demo.steps == steps and new.demo.steps == 0
    run(scenario())


def test_live_divergence_pauses_with_message_and_reset_recovers():
    async def scenario():
        view = LiveView(LineFit(lr=10.0), key="diverge")
        view.speed.value = 50
        view.play()
        assert await until(lambda: not view.playing)
        assert view.demo.diverged
        assert "Diverged" in view.status.value
        view.play()                              # refuses to train a diverged model
        assert view.task.done()
        view.controls["lr"].value = 0.1          # the slider applies; a diverged run restarts
        assert view.demo.hp["lr"] == pytest.approx(0.1) and not view.demo.diverged
        view.buttons["Step"].click()
        assert view.demo.steps == 50
    run(scenario())


def test_widget_controls_change_hyperparameters():
    view = LineFit().__class__()
    v = LiveView(view, key="controls")
    v.controls["noise"].value = 0.0
    assert v.demo.hp["noise"] == 0.0
    v.buttons["Step"].click()
    assert v.demo.steps == 1
    v.buttons["Reset"].click()
    assert v.demo.steps == 0


# --------------------------------------------------------------------------- lifecycle and controls
def test_a_slice_stops_on_its_time_budget():
    demo = LineFit()
    demo.step(1000, seconds=0.0)           # the budget is spent after the first step
    assert demo.steps == 1
    demo.step(5, seconds=60.0)
    assert demo.steps == 6


def test_play_right_after_pause_is_not_dropped():
    async def scenario():
        view = LiveView(LineFit(), key="play-pause")
        view.play()
        await asyncio.sleep(0.05)
        view.pause()
        view.play()                        # same event-loop tick: the old task is not done yet
        assert view.playing
        steps = view.demo.steps
        for _ in range(200):
            await asyncio.sleep(0.01)
            if view.demo.steps > steps + 5:
                break
        assert view.demo.steps > steps + 5 and view.playing
        view.pause()
    run(scenario())


def test_rerun_closes_the_old_widgets_and_two_demos_in_one_cell_live_together(monkeypatch):
    import genmech.live as live

    monkeypatch.setattr(live, "_execution", lambda: ("cell-1", "run-1"))
    a, b = LiveView(LineFit(), key=None), LiveView(LineFit(seed=2), key=None)
    assert not a.closed and not b.closed   # the same execution of one cell shows both
    monkeypatch.setattr(live, "_execution", lambda: ("cell-1", "run-2"))
    c = LiveView(LineFit(), key=None)      # the cell runs again
    assert a.closed and b.closed and not c.closed
    assert a.widget.comm is None and a.fig.comm is None   # widgets closed, not only paused


def test_log_slider_end_value_is_accepted():
    # FloatLogSlider sends 10 ** log10(20) = 20.000000000000004 for a maximum of 20
    sent = 10 ** math.log10(20.0)
    assert sent > 20.0
    assert Slider("lr", 1e-3, 20.0, 0.1, log=True).validate(sent) == 20.0
    assert Slider("lr", 1e-3, 20.0, 0.1, log=True).validate(10 ** math.log10(1e-3)) == 1e-3
    with pytest.raises(ValueError, match="between"):
        Slider("lr", 1e-3, 20.0, 0.1, log=True).validate(20.001)
    demo = LineFit()
    demo.set(lr=10 ** math.log10(10.0) * (1 + 2e-16))
    assert demo.hp["lr"] == 10.0


def test_a_refused_value_says_why_and_keeps_the_last_good_state():
    view = LiveView(LineFit(), key="refused")
    view.demo.step(5)
    view.set(lr=1e6)                       # beyond the slider's range
    assert "Not applied" in view.status.value and "lr must be between" in view.status.value
    assert view.demo.hp["lr"] == 0.1 and view.demo.steps == 5
    view.draw()                            # a redraw does not hide the message
    assert "Not applied" in view.status.value
    view.buttons["Step"].click()           # the reader's next action clears it
    assert "Not applied" not in view.status.value


def test_an_exception_in_training_pauses_and_shows_it():
    async def scenario():
        view = LiveView(LineFit(), key="boom")

        def boom():
            raise RuntimeError("out of paper")
        view.demo.train_step = boom
        view.play()
        for _ in range(100):
            if not view.playing:
                break
            await asyncio.sleep(0.01)
        assert not view.playing and view.task.done()
        assert "RuntimeError: out of paper" in view.status.value
    run(scenario())


def test_demo_leaves_the_global_random_numbers_alone():
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    demo = LineFit()
    demo.step(3)
    demo.reset()
    assert torch.equal(torch.rand(2), expected)


class Picky(LineFit):
    """A demo whose second dataset cannot be built (like the GAN lab's 'yours' with no points)."""

    params = LineFit.params + (Choice("data", ("line", "yours"), "line"),)

    def build(self):
        if self.hp["data"] == "yours":
            raise ValueError("dataset 'yours' needs your points")
        super().build()


def test_a_setting_that_cannot_be_built_keeps_the_previous_state_and_says_why():
    view = LiveView(Picky(), key="picky")
    view.demo.step(7)
    w = view.demo.w.detach().clone()
    view.controls["data"].value = "yours"
    assert view.demo.hp["data"] == "line" and view.controls["data"].value == "line"
    assert view.demo.steps == 7 and torch.equal(view.demo.w.detach(), w)   # nothing lost
    assert "needs your points" in view.status.value
    view.draw()
    assert "needs your points" in view.status.value                        # it stays
    view.demo.step(1)                                                      # and it still trains
    assert view.demo.steps == 8


def test_pause_draws_the_state_it_stopped_at():
    async def scenario():
        view = LiveView(LineFit(), key="pause-draw")
        view.fig.send = lambda msg, buffers=None: view.fig._answer(view.fig, {"type": "drawn"}, [])
        view.demo.fps = 0.001                  # no redraw while playing: only Pause draws
        view.play()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if view.demo.steps > 10:
                break
        view.pause()
        w = view.demo.w.detach().numpy()
        np.testing.assert_allclose(view.fig.data[1].y, [w[0] * -1 + w[1], w[0] + w[1]], rtol=1e-5)
    run(scenario())


def test_blowup_stops_a_finite_divergence():
    class Watched(LineFit):
        blowup = {"loss": 10.0}
    demo = Watched(lr=3.0)                     # overshoots: the loss grows but stays finite a while
    demo.step(200)
    assert demo.diverged and "more than 10 times its first value" in demo.status
    assert math.isfinite(demo.metrics.last["loss"])
