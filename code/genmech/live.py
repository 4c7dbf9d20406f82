"""Live-or-recorded training demos: one object, three renderings.

A :class:`Demo` owns a model, a training step, hyperparameters, metrics and a view. A
chapter subclasses it and fills in four small methods (``build``, ``train_step``,
``figure``, ``frame``); everything else is shared:

* **live** (JupyterLab, Binder): :class:`LiveView` shows Play / Pause / Step / Reset, a
  speed control, one control per hyperparameter and a metric curve beside the figure.
  Training runs in an asyncio task that yields to the kernel after every slice of
  steps, so buttons and other cells stay responsive.
* **recorded** (while the book is built, ``GENMECH_MODE=record``): the demo trains for a
  fixed budget and returns a plain plotly figure with frames, a Play button and a
  slider, so the static page animates a real run.
* **headless** (tests, scripts): ``step``, ``set``, ``metrics`` and ``figure`` from code.

No model is known here; the framework only knows "a step returns numbers".
"""
from __future__ import annotations

import asyncio
import math
import os
import random
import time
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch

from .livefigure import LiveFigure
from .plotting import COLORS, compact

DIVERGED = ("Diverged — {name} became {value} at step {step}. "
            "Try a smaller learning rate, then press Reset.")


def mode() -> str:
    """``"record"`` while the book is built or tested (``GENMECH_MODE=record``), else ``"live"``."""
    value = os.environ.get("GENMECH_MODE", "live").lower()
    if value not in ("live", "record"):
        raise ValueError(f"GENMECH_MODE must be 'live' or 'record', not {value!r}")
    return value


# --------------------------------------------------------------------------- hyperparameters
@dataclass(frozen=True)
class Slider:
    """A numeric hyperparameter. ``log=True`` spaces the slider logarithmically (learning rates).

    ``restart=True`` means a change rebuilds the model (e.g. a layer width); otherwise the
    demo's :meth:`Demo.apply` folds the new value into the running training.
    """

    name: str
    low: float
    high: float
    default: float
    log: bool = False
    step: float | None = None
    integer: bool = False
    label: str | None = None
    restart: bool = False

    def validate(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{self.name} must be a number, got {value!r}")
        if not (self.low <= value <= self.high) or not math.isfinite(value):
            raise ValueError(f"{self.name} must be between {self.low} and {self.high}, got {value}")
        if self.integer and int(value) != value:
            raise ValueError(f"{self.name} must be a whole number, got {value}")
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Choice:
    """A hyperparameter picked from a list (a dataset, an optimizer, a loss)."""

    name: str
    options: tuple
    default: object
    label: str | None = None
    restart: bool = True

    def validate(self, value):
        if value not in self.options:
            choices = ", ".join(repr(o) for o in self.options)
            raise ValueError(f"{self.name} must be one of {choices}; got {value!r}")
        return value


# --------------------------------------------------------------------------- metric history
@dataclass
class Series:
    """One metric over training, thinned by half whenever it exceeds ``cap`` points.

    Memory stays bounded however long a demo runs, while the curve still spans the whole
    run: after thinning, only every ``stride``-th step is kept.
    """

    cap: int = 2000
    stride: int = 1
    steps: list = field(default_factory=list)
    values: list = field(default_factory=list)

    def append(self, step: int, value: float) -> None:
        if step % self.stride:
            return
        self.steps.append(step)
        self.values.append(value)
        if len(self.steps) > self.cap:
            self.steps, self.values = self.steps[::2], self.values[::2]
            self.stride *= 2


class MetricHistory:
    """All metrics of a run: a :class:`Series` per name and the latest value of each."""

    def __init__(self, cap: int = 2000):
        self.cap = cap
        self.series: dict[str, Series] = {}
        self.last: dict[str, float] = {}

    def append(self, step: int, metrics: dict) -> None:
        for name, value in metrics.items():
            self.last[name] = value
            self.series.setdefault(name, Series(self.cap)).append(step, value)

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self.series[name].values)

    def figure(self, names=None, log_y=False, height=300) -> go.Figure:
        names = [n for n in (self.series if names is None else names) if n in self.series]
        fig = go.Figure()
        for i, name in enumerate(names):
            s = self.series[name]
            fig.add_scatter(x=compact(s.steps), y=compact(s.values), mode="lines", name=name,
                            line=dict(color=COLORS[i % len(COLORS)]))
        fig.update_layout(height=height, margin=dict(l=50, r=20, t=30, b=40),
                          xaxis_title="step", legend=dict(orientation="h", y=1.12))
        if log_y:
            fig.update_yaxes(type="log")
        return fig


# --------------------------------------------------------------------------- the demo
class Demo:
    """Base class of every training demo in the book. Subclasses define:

    * ``params``: a tuple of :class:`Slider` / :class:`Choice`, the reader's controls;
    * ``build()``: create model, optimizer and data from ``self.hp`` (seeded already);
    * ``train_step()``: one update; returns a dict of finite floats, e.g. ``{"loss": 0.3}``;
    * ``figure()``: a ``go.Figure`` of the current state;
    * ``frame()``: the data of each trace of ``figure()`` that training changes, as a list
      of dicts in trace order, ``None`` for a trace that never changes (the default rebuilds
      the whole figure; override for speed);
    * optionally ``apply(changed)``: fold a changed hyperparameter into a running model.
    """

    title = "Training demo"
    params: tuple = ()
    curves: tuple | None = None   # metrics drawn in the curve; None: all; (): no curve
                                  # (for a demo whose figure already draws its losses)
    log_curves = False            # draw the metric curve on a log scale
    fps = 12                      # live figure refreshes per second (at most)

    def __init__(self, seed: int = 0, history: int = 2000, **hp):
        if not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.history = history
        self.hp = {p.name: p.default for p in self.params}
        self.hp.update(self._validated(hp))
        self.reset()

    # -- hooks for subclasses
    def build(self) -> None:
        raise NotImplementedError

    def train_step(self) -> dict:
        raise NotImplementedError

    def figure(self) -> go.Figure:
        raise NotImplementedError

    def frame(self) -> list[dict]:
        return [_trace_data(t) for t in self.figure().data]

    def apply(self, changed: set) -> None:
        """Fold changed hyperparameters into the running training; the default rebuilds."""
        self.reset()

    # -- shared behaviour
    def param(self, name: str):
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise ValueError(f"{type(self).__name__} has no hyperparameter {name!r} (it has: {known})")

    def _validated(self, hp: dict) -> dict:
        return {name: self.param(name).validate(value) for name, value in hp.items()}

    def reset(self) -> None:
        """Start again from step 0 with the current hyperparameters and the same seed."""
        torch.manual_seed(self.seed)
        np.random.seed(self.seed)
        random.seed(self.seed)
        self.steps = 0
        self.metrics = MetricHistory(self.history)
        self.diverged = False
        self.status = ""
        self.build()

    def step(self, n: int = 1) -> dict:
        """Train ``n`` steps; stop early, with a message in ``status``, if a metric diverges."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        for _ in range(n):
            if self.diverged:
                break
            metrics = {k: float(v) for k, v in self.train_step().items()}
            self.steps += 1
            bad = [(k, v) for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                name, value = bad[0]
                self.diverged = True
                self.status = DIVERGED.format(name=name, value=value, step=self.steps)
                break
            self.metrics.append(self.steps, metrics)
        return dict(self.metrics.last)

    def set(self, **hp) -> None:
        """Change hyperparameters: rebuild if one of them needs it, else apply in place."""
        hp = self._validated(hp)
        changed = {k for k, v in hp.items() if self.hp[k] != v}
        self.hp.update(hp)
        if not changed:
            return
        if any(self.param(k).restart for k in changed) or self.diverged:
            self.reset()
        else:
            self.apply(changed)

    def metric_figure(self) -> go.Figure:
        names = list(self.metrics.series) if self.curves is None else list(self.curves)
        return self.metrics.figure(names, log_y=self.log_curves)

    def record(self, steps: int, frames: int = 30) -> "Recording":
        """Train from scratch for ``steps`` steps, keeping ``frames`` snapshots for an animation."""
        if steps < 1 or frames < 1:
            raise ValueError("record needs steps >= 1 and frames >= 1")
        self.reset()
        marks = sorted({int(m) for m in np.linspace(0, steps, min(frames, steps) + 1).round()})
        snapshots = []
        for mark in marks:
            self.step(mark - self.steps)
            snapshots.append((f"{self.steps}", self.frame()))
            if self.diverged:
                break
        return Recording(animate(self.figure(), snapshots), self.metric_figure(), dict(self.metrics.last),
                         self.steps, self.status, self.title)

    def show(self, steps: int, frames: int = 30):
        """Show the demo: live controls in a kernel, or a recorded run of ``steps`` steps
        when the book is built (``GENMECH_MODE=record``)."""
        from IPython.display import display

        if mode() == "record":
            display(self.record(steps, frames))
        else:
            display(LiveView(self).widget)

    def summary(self, digits: int = 3) -> str:
        """The latest metrics as text, rounded so that it reproduces across machines."""
        parts = [f"{k} {_fmt(v, digits)}" for k, v in self.metrics.last.items()]
        return f"step {self.steps}: " + ", ".join(parts) if parts else f"step {self.steps}"


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}g}"


def _trace_data(trace) -> dict:
    data = trace.to_plotly_json()
    data.pop("type", None)
    return data


# --------------------------------------------------------------------------- recorded runs
def animate(final: go.Figure, snapshots: list, duration: int = 120) -> go.Figure:
    """A playable animation of ``(label, trace updates)`` snapshots.

    The figure first shows the *final* state (``final``), so that a reader who never presses
    Play still sees where training arrived, and so that axes autorange over the whole run;
    Play replays the run from its first snapshot, and the slider scrubs through it.
    """
    fig = go.Figure(final)
    fig.frames = [
        go.Frame(name=label, traces=[i for i, d in enumerate(data) if d is not None],
                 data=[{"type": final.data[i].type, **d} for i, d in enumerate(data) if d is not None])
        for label, data in snapshots
    ]
    play = dict(label="▶ Play", method="animate",
                args=[None, {"frame": {"duration": duration, "redraw": True},
                             "transition": {"duration": 0}, "fromcurrent": False}])
    pause = dict(label="❚❚ Pause", method="animate",
                 args=[[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}])
    slider_steps = [dict(method="animate", label=label,
                         args=[[label], {"frame": {"duration": 0, "redraw": True},
                                         "mode": "immediate", "transition": {"duration": 0}}])
                    for label, _ in snapshots]
    # Controls go in a band of CONTROLS pixels added below the plot and its axis titles.
    height = fig.layout.height or 450
    margin = fig.layout.margin
    top = margin.t if margin.t is not None else 60
    bottom = (margin.b if margin.b is not None else 60) + CONTROLS
    plot_height = height + CONTROLS - top - bottom
    y = -(bottom - CONTROLS + 10) / plot_height
    fig.update_layout(
        height=height + CONTROLS, margin=dict(t=top, b=bottom),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=y, xanchor="left",
                          yanchor="top", pad=dict(t=0, r=10), showactive=False,
                          buttons=[play, pause])],
        sliders=[dict(active=len(snapshots) - 1, x=0.3, len=0.7, y=y, yanchor="top",
                      pad=dict(t=0, b=0), currentvalue=dict(prefix="step ", visible=True),
                      steps=slider_steps)],
    )
    return fig


CONTROLS = 80   # pixels for the Play button and the slider under a recorded animation


@dataclass
class Recording:
    """What a recorded run shows: the animation, the metric curves and a caption."""

    figure: go.Figure
    metrics: go.Figure
    final: dict
    steps: int
    status: str = ""
    title: str = ""

    @property
    def caption(self) -> str:
        numbers = ", ".join(f"{k} = {_fmt(v, 3)}" for k, v in self.final.items())
        text = f"**{self.title}** — recorded run of {self.steps} training steps"
        text += f"; final {numbers}." if numbers else "."
        if self.status:
            text += f" {self.status}"
        return text

    def _ipython_display_(self):
        from IPython.display import Markdown, display

        display(self.figure)
        if self.metrics.data:        # a demo whose figure draws its own losses has none
            display(self.metrics)
        display(Markdown(self.caption))


# --------------------------------------------------------------------------- the live UI
_ACTIVE: dict = {}   # one running view per notebook cell: re-running a cell stops the old one


def _cell_key(default: str) -> str:
    """The id of the notebook cell being executed (JupyterLab sends it), else ``default``."""
    try:
        from IPython import get_ipython

        parent = get_ipython().kernel.get_parent()
        return parent.get("metadata", {}).get("cellId") or default
    except Exception:
        return default


class LiveView:
    """Widgets around a :class:`Demo` that train it in the background of a live kernel."""

    SPEEDS = (1, 2, 5, 10, 20, 50, 100)

    def __init__(self, demo: Demo, key: str | None = None):
        import ipywidgets as w

        self.demo = demo
        self.task: asyncio.Task | None = None
        self.playing = False
        self.frames_drawn = 0
        self.key = key or _cell_key(type(demo).__name__)
        old = _ACTIVE.get(self.key)
        if old is not None:
            old.pause()
        _ACTIVE[self.key] = self

        main = demo.figure()
        if main.layout.width is None:         # leave room for the curve beside it
            main.layout.width = 640
        self.fig = LiveFigure(main)
        curve = demo.metric_figure()
        curve.update_layout(width=400, height=main.layout.height or 450)
        self.curve = LiveFigure(curve)
        self.buttons = {}
        for name, icon, action in (("Play", "play", self.play), ("Pause", "pause", self.pause),
                                   ("Step", "step-forward", self.step_once),
                                   ("Reset", "undo", self.reset)):
            b = w.Button(description=name, icon=icon, layout=w.Layout(width="90px"))
            b.on_click(lambda _b, act=action: act())
            self.buttons[name] = b
        self.speed = w.SelectionSlider(options=self.SPEEDS, value=1, description="steps/frame",
                                       style={"description_width": "initial"})
        self.controls = {p.name: self._control(w, p) for p in demo.params}
        self.status = w.HTML()
        self.widget = w.VBox([
            w.HTML(f"<b>{demo.title}</b>"),
            w.HBox(list(self.buttons.values()) + [self.speed]),
            w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.fig] + ([self.curve] if demo.curves != () else []),
                   layout=w.Layout(flex_flow="row wrap")),
            self.status,
        ])
        self._update_status()

    def _control(self, w, p):
        label = p.label or p.name
        style = {"description_width": "initial"}
        if isinstance(p, Choice):
            c = w.Dropdown(options=list(p.options), value=self.demo.hp[p.name], description=label,
                           style=style)
        elif p.log:
            c = w.FloatLogSlider(value=self.demo.hp[p.name], min=math.log10(p.low),
                                 max=math.log10(p.high), step=0.1, description=label, style=style,
                                 readout_format=".2g")
        elif p.integer:
            c = w.IntSlider(value=self.demo.hp[p.name], min=int(p.low), max=int(p.high),
                            step=int(p.step or 1), description=label, style=style)
        else:
            c = w.FloatSlider(value=self.demo.hp[p.name], min=p.low, max=p.high,
                              step=p.step or (p.high - p.low) / 100, description=label, style=style)
        c.observe(lambda change, name=p.name: self.set(**{name: change["new"]}), names="value")
        return c

    # -- actions (buttons call these; tests call them directly)
    def play(self) -> None:
        if self.demo.diverged:
            self._update_status()
            return
        if self.task is None or self.task.done():
            self.playing = True
            self.task = asyncio.ensure_future(self._run())

    def pause(self) -> None:
        self.playing = False
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._update_status()

    def step_once(self) -> None:
        self.pause()
        self.demo.step(max(1, self.speed.value))
        self.draw()

    def reset(self) -> None:
        self.pause()
        self.demo.reset()
        self.draw()

    def set(self, **hp) -> None:
        try:
            self.demo.set(**hp)
        except (TypeError, ValueError) as err:
            self.status.value = f"<span style='color:#D55E00'>{err}</span>"
            return
        self.draw()

    # -- the background loop
    async def _run(self) -> None:
        period = 1.0 / self.demo.fps
        last = 0.0
        try:
            while self.playing:
                self.demo.step(self.speed.value)
                now = time.perf_counter()
                if self.demo.diverged:
                    self.playing = False
                if now - last >= period or not self.playing:
                    self.draw()
                    last = now
                await asyncio.sleep(0)
        except Exception as err:  # show it rather than die silently in the background
            self.playing = False
            self.status.value = f"<span style='color:#D55E00'>Stopped: {type(err).__name__}: {err}</span>"
            return
        self._update_status()

    def draw(self) -> None:
        self.fig.update_traces(self.demo.frame())
        series = self.demo.metrics.series
        names = [n for n in (series if self.demo.curves is None else self.demo.curves) if n in series]
        if [t.name for t in self.curve.data] != names:
            curve = self.demo.metric_figure()
            curve.update_layout(width=self.curve.layout.width, height=self.curve.layout.height)
            self.curve.set_figure(curve)
        else:
            self.curve.update_traces([dict(x=series[n].steps, y=series[n].values) for n in names])
        self.frames_drawn += 1
        self._update_status()

    def _update_status(self) -> None:
        d = self.demo
        if d.diverged:
            self.status.value = f"<span style='color:#D55E00'><b>{d.status}</b></span>"
        else:
            state = "training…" if self.playing else "paused"
            self.status.value = f"{state} — {d.summary()}"
