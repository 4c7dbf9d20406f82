"""Live-or-recorded training demos: one object, three renderings.

A :class:`Demo` owns a model, one counted and checked training step, hyperparameters,
metrics, its own random generators and a view. A chapter subclasses it and fills in
four small methods (``build``, ``train_step``, ``figure``, ``frame``); everything else
is shared:

* **live** (JupyterLab, Binder): ``demo.show(steps)`` first trains the run the page
  describes (a progress bar shows it), so the cells below see the same trained model as
  on the website; then :class:`LiveView` opens on it with Play / Pause / Step / Reset, a
  speed control, one control per hyperparameter and the metric curves. Reset and Play
  watch the run again from the start. Training runs in an asyncio task in slices of at
  most ``Demo.slice_seconds``, so buttons and other cells stay responsive.
* **recorded** (while the book is built, ``GENMECH_MODE=record``): the demo trains for
  the same budget and returns a plain plotly figure with frames, a Play button and a
  slider, so the static page animates the real run.
* **headless** (tests, scripts): ``step``, ``act``, ``set``, ``metrics`` and ``figure``.

Extension hooks a chapter may fill in (never a private method of the view):
``actions()`` (extra buttons, each a counted and checked update), ``substeps()`` (the
actions one step is made of: a "slow motion" toggle plays them one at a time),
``code()`` (a "Show code" panel), ``note()`` (a line under the figure), ``check()``
(what divergence means for this demo, beyond a non-finite number), ``metric_figure()``
and ``metric_frame()`` (the curves beside the figure and what changed in them).

No model is known here; the framework only knows "a step returns numbers".
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch

from .livefigure import LiveFigure
from .plotting import COLORS, compact

DIVERGED = ("Diverged — {name} became {value} at step {step}. "
            "Try a smaller learning rate, then press Reset.")
BLOWUP = ("Diverged — {name} rose to {value:.3g} at step {step}, more than {factor:g} times "
          "its first value ({first:.3g}). Try a smaller learning rate, then press Reset.")
ERROR_STYLE = "color:#D55E00"
POLL = 0.025   # s of training between two real sleeps of the live loop (see LiveView._run)


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
        if not math.isfinite(value):
            raise ValueError(f"{self.name} must be a finite number, got {value}")
        # a log slider sends 10 ** log10(high), e.g. 20.000000000000004 for 20: within
        # rounding of an end, the value is that end
        tol = 1e-9 * max(abs(self.low), abs(self.high), 1e-300)
        if self.low - tol <= value < self.low:
            value = self.low
        elif self.high < value <= self.high + tol:
            value = self.high
        if not (self.low <= value <= self.high):
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

    def curves(self, names) -> list[dict]:
        """Each named series as ``{"x": steps, "y": values}``, empty for one not seen yet:
        a curve figure's frame, one entry per trace."""
        out = []
        for name in names:
            s = self.series.get(name)
            out.append(dict(x=compact(s.steps if s else []), y=compact(s.values if s else [])))
        return out

    def figure(self, names=None, log_y=False, height=300) -> go.Figure:
        names = [n for n in (self.series if names is None else names) if n in self.series]
        fig = go.Figure()
        for i, name in enumerate(names):
            s = self.series[name]
            fig.add_scatter(x=compact(s.steps), y=compact(s.values), mode="lines", name=name,
                            line=dict(color=COLORS[i % len(COLORS)]))
        fig.update_layout(height=height, margin=dict(l=50, r=20, t=30, b=40),
                          xaxis_title="step", legend=dict(orientation="h", y=1.12),
                          showlegend=True)        # even one curve says what it is
        if log_y:
            fig.update_yaxes(type="log")
        return fig


# --------------------------------------------------------------------------- random state
def _global_random_state():
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def _set_global_random_state(state) -> None:
    torch.set_rng_state(state[0])
    np.random.set_state(state[1])
    random.setstate(state[2])


@contextlib.contextmanager
def untouched_random_state():
    """Run a block without changing the global random generators (torch, numpy, random)."""
    saved = _global_random_state()
    try:
        yield
    finally:
        _set_global_random_state(saved)


# --------------------------------------------------------------------------- the demo
class Demo:
    """Base class of every training demo in the book. Subclasses define:

    * ``params``: a tuple of :class:`Slider` / :class:`Choice`, the reader's controls;
    * ``build()``: create model, optimizer and data from ``self.hp`` (seeded already);
    * ``train_step()``: one update; returns a dict of floats, e.g. ``{"loss": 0.3}``;
    * ``figure()``: a ``go.Figure`` of the current state;
    * ``frame()``: the data of each trace of ``figure()`` that training changes, as a list
      of dicts in trace order, ``None`` for a trace that never changes (the default sends
      every trace; override for speed). Layout never changes during training;
    * optionally ``apply(changed)``: fold a changed hyperparameter into a running model.

    and may fill in the extension hooks ``actions``, ``substeps``, ``code``, ``note``,
    ``check``, ``metric_figure`` and ``metric_frame`` (see each one).

    **Random numbers.** Each demo owns its random state: ``build``, ``train_step`` and the
    actions run with the demo's own torch, numpy and ``random`` generators, seeded from
    ``seed`` by :meth:`reset`; the global generators a reader's cells use are left as they
    were. Two demos on one page therefore never disturb each other, and drawing a figure
    never changes what training draws next.
    """

    title = "Training demo"
    params: tuple = ()
    curves: tuple | None = None   # metrics drawn in the curve; None: all; (): no curve
                                  # (for a demo whose figure already draws its losses)
    log_curves = False            # draw the metric curve on a log scale
    fps = 15                      # live figure refreshes per second (at most)
    live_width = 640              # px of the figure in the live view (the curves beside it)
    blowup: dict = {}             # {metric: factor}: the run has diverged when the metric
                                  # exceeds factor x its first value (and a non-finite
                                  # metric always diverges); see also check()
    slice_seconds = 0.03          # a live training slice stops after this long (with its
                                  # redraw, the kernel stays blocked well under 0.1 s), so
                                  # Pause and every other button answer at any speed
    substep_seconds = 0.6         # slow motion: seconds between single updates

    def __init__(self, seed: int = 0, history: int = 2000, **hp):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        if isinstance(history, bool) or not isinstance(history, int) or history < 2:
            raise ValueError(f"history must be an int >= 2, got {history!r}")
        self.seed = seed
        self.history = history
        self.hp = {p.name: p.default for p in self.params}
        self.hp.update(self._validated(hp))
        self.reset()

    # -- the four methods a demo fills in
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

    # -- extension hooks (all optional)
    def actions(self) -> dict[str, Callable[[], dict]]:
        """Extra one-click updates, ``{button label: method}``; each method makes one update
        and returns its metrics. The view adds a button per entry; every click runs through
        :meth:`act`: the demo's random state, the divergence checks, the counters."""
        return {}

    def substeps(self) -> list[str]:
        """The actions one training step is made of, in order (e.g. ``["Step D", "Step G"]``).
        If not empty, the view offers "slow motion": Play runs them one at a time, and each
        completed round counts as one step."""
        return []

    def code(self) -> str | None:
        """Standalone source that trains the current configuration; a "Show code" panel
        shows it when this returns text."""
        return None

    def note(self) -> str:
        """A short line under the figure about the latest update (plain text)."""
        return ""

    def check(self, metrics: dict) -> str | None:
        """Divergence in this demo's own terms: return a message (naming the setting to
        change) to stop training, or ``None``. Non-finite metrics are always caught."""
        return None

    def metric_names(self) -> list[str]:
        """The metrics drawn in the curves: ``curves``, or every metric seen so far."""
        series = self.metrics.series
        return [n for n in (series if self.curves is None else self.curves) if n in series]

    def metric_figure(self) -> go.Figure:
        """The curves beside the figure (one trace per name of :meth:`metric_names`)."""
        return self.metrics.figure(self.metric_names(), log_y=self.log_curves)

    def metric_frame(self) -> list[dict]:
        """What changed in each trace of :meth:`metric_figure` (its twin, as ``frame`` is
        ``figure``'s). A list of another length than the drawn figure's traces makes the
        view rebuild the curves (a metric appeared)."""
        return self.metrics.curves(self.metric_names())

    # -- shared behaviour
    def param(self, name: str):
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise ValueError(f"{type(self).__name__} has no hyperparameter {name!r} (it has: {known})")

    def _validated(self, hp: dict) -> dict:
        return {name: self.param(name).validate(value) for name, value in hp.items()}

    @contextlib.contextmanager
    def own_random_state(self):
        """Run a block with this demo's random generators in place of the global ones."""
        saved = _global_random_state()
        _set_global_random_state(self._random_state)
        try:
            yield
        finally:
            self._random_state = _global_random_state()
            _set_global_random_state(saved)

    def reset(self) -> None:
        """Start again from step 0 with the current hyperparameters and the same seed."""
        with untouched_random_state():
            torch.manual_seed(self.seed)
            np.random.seed(self.seed % 2**32)
            random.seed(self.seed)
            self._random_state = _global_random_state()
        self.steps = 0
        self.counts: dict[str, int] = {}   # clicks of each action (the reader's extra updates)
        self.metrics = MetricHistory(self.history)
        self.diverged = False
        self.status = ""
        self._first: dict = {}             # the first value of each metric in blowup
        self._round: list[str] = []        # slow motion: the actions left in this round
        self._round_metrics: dict = {}
        with self.own_random_state():
            self.build()

    def _checked(self, metrics: dict) -> dict:
        """Metrics as floats; sets ``diverged`` and ``status`` if one is bad: non-finite,
        beyond its ``blowup`` factor, or refused by :meth:`check`."""
        metrics = {k: float(v) for k, v in metrics.items()}
        bad = [(k, v) for k, v in metrics.items() if not math.isfinite(v)]
        message = None
        if bad:
            name, value = bad[0]
            message = DIVERGED.format(name=name, value=value, step=self.steps)
        else:
            for name, factor in self.blowup.items():
                if name not in metrics:
                    continue
                first = self._first.setdefault(name, metrics[name])
                if abs(metrics[name]) > factor * max(abs(first), 1e-12):
                    message = BLOWUP.format(name=name, value=metrics[name], factor=factor,
                                            first=first, step=self.steps)
                    break
            message = message or self.check(metrics)
        if message:
            self.diverged = True
            self.status = message
        return metrics

    def step(self, n: int = 1, seconds: float | None = None) -> dict:
        """Train up to ``n`` steps (stopping after ``seconds`` of wall time if given); stop
        early, with a message in ``status``, if the run diverges. Returns the last metrics."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        start = time.perf_counter()
        if n:
            self._round, self._round_metrics = [], {}   # a whole step ends any slow-motion round
        with self.own_random_state():
            for _ in range(int(n)):
                if self.diverged:
                    break
                raw = self.train_step()
                self.steps += 1
                metrics = self._checked(raw)
                if self.diverged:
                    break
                self.metrics.append(self.steps, metrics)
                if seconds is not None and time.perf_counter() - start >= seconds:
                    break
        return dict(self.metrics.last)

    def act(self, name: str) -> dict:
        """Run one of :meth:`actions` as a counted, checked update (the demo's random state,
        the divergence checks, ``counts[name]``). It does not advance ``steps``."""
        actions = self.actions()
        if name not in actions:
            known = ", ".join(actions) or "none"
            raise ValueError(f"{type(self).__name__} has no action {name!r} (it has: {known})")
        if self.diverged:
            return dict(self.metrics.last)
        with self.own_random_state():
            metrics = self._checked(actions[name]() or {})
        self.counts[name] = self.counts.get(name, 0) + 1
        if not self.diverged and metrics:
            self.metrics.last.update(metrics)
        return metrics

    def substep(self) -> dict:
        """One action of the current round of :meth:`substeps` (slow motion). When the round
        is complete it counts as a step: ``steps`` grows and its metrics are recorded."""
        order = self.substeps()
        if not order:
            raise ValueError(f"{type(self).__name__} defines no substeps")
        if self.diverged:
            return dict(self.metrics.last)
        if not self._round:
            self._round, self._round_metrics = list(order), {}
        name = self._round.pop(0)
        metrics = self.act(name)
        self._round_metrics.update(metrics)
        if not self._round and not self.diverged:
            self.steps += 1
            self.metrics.append(self.steps, self._round_metrics)
            self._round_metrics = {}
        return metrics

    def set(self, **hp) -> None:
        """Change hyperparameters: rebuild if one of them needs it, else apply in place.
        A bad value raises a readable error and changes nothing."""
        hp = self._validated(hp)
        changed = {k for k, v in hp.items() if self.hp[k] != v}
        if not changed:
            return
        before = dict(self.__dict__, hp=dict(self.hp))   # the last good state
        self.hp.update(hp)
        try:
            if any(self.param(k).restart for k in changed) or self.diverged:
                self.reset()
            else:
                with self.own_random_state():
                    self.apply(changed)
        except (TypeError, ValueError):
            # e.g. a dataset that needs input the reader has not given: keep what was there
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def record(self, steps: int, frames: int = 30) -> "Recording":
        """Train from scratch for ``steps`` steps, keeping ``frames`` snapshots for an animation."""
        if steps < 1 or frames < 1:
            raise ValueError("record needs steps >= 1 and frames >= 1")
        self.reset()
        marks = sorted({int(m) for m in np.linspace(0, steps, min(frames, steps) + 1).round()})
        snapshots = []
        for mark in marks:
            self.step(mark - self.steps)
            with untouched_random_state():
                snapshots.append((f"{self.steps}", self.frame()))
            if self.diverged:
                break
        with untouched_random_state():
            final, curves = self.figure(), self.metric_figure()
        return Recording(animate(final, snapshots), curves, dict(self.metrics.last),
                         self.steps, self.status, self.title)

    def train(self, steps: int, progress: bool = False) -> dict:
        """Reset and train ``steps`` steps: the run a page describes. With ``progress``, a
        progress bar shows it in a notebook. The state is the same as after :meth:`record`."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative int, got {steps!r}")
        self.reset()
        bar = None
        if progress and steps:
            import ipywidgets as w
            from IPython.display import display

            bar = w.IntProgress(value=0, min=0, max=steps, description=f"training {self.title}",
                                style={"description_width": "initial", "bar_color": COLORS[0]},
                                layout=w.Layout(width="100%"))
            display(bar)
        chunk = max(1, steps // 50)
        while self.steps < steps and not self.diverged:
            self.step(min(chunk, steps - self.steps))
            if bar is not None:
                bar.value = self.steps
        if bar is not None:
            bar.close()
        return dict(self.metrics.last)

    def show(self, steps: int, frames: int = 30):
        """Show the run of ``steps`` steps: a recorded animation when the book is built
        (``GENMECH_MODE=record``); in a live kernel, train it first (with a progress bar),
        then open the live view on the trained model: the cells below see the same state in
        both modes, and Reset, then Play, watches the run again."""
        from IPython.display import display

        if mode() == "record":
            display(self.record(steps, frames))
        else:
            self.train(steps, progress=True)
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
    # fromcurrent: Play after Pause resumes where it stopped (plotly starts from the first
    # snapshot again when the current one is the first or the last)
    play = dict(label="▶ Play", method="animate",
                args=[None, {"frame": {"duration": duration, "redraw": True},
                             "transition": {"duration": 0}, "fromcurrent": True}])
    pause = dict(label="❚❚ Pause", method="animate",
                 args=[[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}])
    slider_steps = [dict(method="animate", label=label,
                         args=[[label], {"frame": {"duration": 0, "redraw": True},
                                         "mode": "immediate", "transition": {"duration": 0}}])
                    for label, _ in snapshots]
    # Controls go in a band of CONTROLS pixels added below the plot and its axis titles:
    # the buttons on one row, the slider under them at the full width, so that neither
    # covers the other on a phone.
    height = fig.layout.height or 450
    margin = fig.layout.margin
    top = margin.t if margin.t is not None else 60
    bottom = (margin.b if margin.b is not None else 60) + CONTROLS
    plot_height = height + CONTROLS - top - bottom
    y = -(bottom - CONTROLS + 10) / plot_height
    y_slider = y - 38 / plot_height
    fig.update_layout(
        height=height + CONTROLS, margin=dict(t=top, b=bottom),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=y, xanchor="left",
                          yanchor="top", pad=dict(t=0, r=10), showactive=False,
                          buttons=[play, pause])],
        sliders=[dict(active=len(snapshots) - 1, x=0, len=1, y=y_slider, yanchor="top",
                      pad=dict(t=0, b=0), currentvalue=dict(prefix="step ", visible=True),
                      steps=slider_steps)],
    )
    return fig


CONTROLS = 118  # pixels for the Play/Pause row and, under it, the slider of a recorded animation


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
# The views shown by each notebook cell: re-running a cell closes what it showed before.
_ACTIVE: dict = {}   # cell key -> (execution id, [views])


def _execution() -> tuple[str | None, str | None]:
    """(cell id, id of the execute request) of the cell being run; (None, None) outside one."""
    try:
        from IPython import get_ipython

        parent = get_ipython().kernel.get_parent()
        cell = parent.get("metadata", {}).get("cellId")
        return cell, parent.get("header", {}).get("msg_id")
    except Exception:
        return None, None


def _register(view: "LiveView", key: str | None) -> str:
    cell, execution = _execution()
    key = key or cell or type(view.demo).__name__
    execution = execution or object()        # outside a kernel: every view is a new run
    previous = _ACTIVE.get(key)
    if previous is not None and previous[0] != execution:
        for old in previous[1]:
            old.close()
        previous = None
    if previous is None:
        _ACTIVE[key] = previous = (execution, [])
    previous[1].append(view)
    return key


def _message(text: str) -> str:
    return f"<span style='{ERROR_STYLE}'>{html.escape(text)}</span>"


class LiveView:
    """Widgets around a :class:`Demo` that train it in the background of a live kernel.

    States: *paused* (no task) and *playing* (one task). Play starts a new task with a new
    generation number; Pause cancels it. A task only touches the view while its
    generation is current, so Play right after Pause (in the same event-loop tick) starts
    training again instead of being dropped. An exception in training pauses the view and
    shows the message. Re-running the cell that showed a view closes it (task and widgets).
    """

    SPEEDS = (1, 2, 5, 10, 20, 50, 100)

    def __init__(self, demo: Demo, key: str | None = None):
        import ipywidgets as w

        self.demo = demo
        self.task: asyncio.Task | None = None
        self.playing = False
        self.closed = False
        self.frames_drawn = 0
        self.message = ""                  # the last refusal or error; stays until the next action
        self._generation = 0
        self._quiet = False                # True while the view itself moves a control
        self.key = _register(self, key)

        with untouched_random_state():
            main = self._main_figure()
            self._height = main.layout.height or 450
            curve = self._curve_figure()
        self.fig = LiveFigure(main)
        self.curve = LiveFigure(curve)
        self.buttons = {}
        for name, icon, action in (("Play", "play", self.play), ("Pause", "pause", self.pause),
                                   ("Step", "step-forward", self.step_once),
                                   ("Reset", "undo", self.reset)):
            self._button(w, name, action, icon=icon)
        self.speed = w.SelectionSlider(options=self.SPEEDS, value=1, description="steps/frame",
                                       style={"description_width": "initial"})
        extra = [self._button(w, name, lambda n=name: self.act(n), width="110px")
                 for name in demo.actions()]
        self.slow = None
        if demo.substeps():
            self.slow = w.ToggleButton(value=False, description="slow motion",
                                       tooltip="Play one update at a time, each one explained")
            self.slow.observe(lambda _c: self._restart_if_playing(), names="value")
            extra.append(self.slow)
        self.code = w.HTML()
        if demo.code() is not None:
            extra.append(self._button(w, "Show code", self.toggle_code, icon="code", width="120px"))
        self.controls = {p.name: self._control(w, p) for p in demo.params}
        self.status = w.HTML()
        self.widget = w.VBox([
            w.HTML(f"<b>{html.escape(demo.title)}</b>"),
            w.HBox(list(self.buttons.values())[:4] + [self.speed]),
            *([w.HBox(extra, layout=w.Layout(flex_flow="row wrap"))] if extra else []),
            w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.fig] + ([self.curve] if demo.curves != () else []),
                   layout=w.Layout(flex_flow="row wrap")),
            self.status,
            self.code,
        ])
        self._update_status()

    # -- construction
    def _button(self, w, name, action, icon="", width="90px"):
        b = w.Button(description=name, icon=icon, layout=w.Layout(width=width))
        b.on_click(lambda _b: action())
        self.buttons[name] = b
        return b

    def _main_figure(self) -> go.Figure:
        fig = self.demo.figure()
        if fig.layout.width is None:          # leave room for the curve beside it
            fig.layout.width = self.demo.live_width
        return fig

    def _curve_figure(self) -> go.Figure:
        fig = self.demo.metric_figure()
        fig.update_layout(width=400, height=self._height)
        return fig

    def _control(self, w, p):
        label = p.label or p.name
        style = {"description_width": "initial"}
        # a control that rebuilds the model acts when released, not on every drag tick;
        # the box grows with the label, so a long label leaves the track its full width
        width = f"{max(300, 7 * len(label) + 230)}px"
        kw = dict(description=label, style=style, continuous_update=not p.restart,
                  layout=w.Layout(width=width))
        if isinstance(p, Choice):
            c = w.Dropdown(options=list(p.options), value=self.demo.hp[p.name], description=label,
                           style=style)
        elif p.log:
            c = w.FloatLogSlider(value=self.demo.hp[p.name], min=math.log10(p.low),
                                 max=math.log10(p.high), step=0.1, readout_format=".2g", **kw)
        elif p.integer:
            c = w.IntSlider(value=self.demo.hp[p.name], min=int(p.low), max=int(p.high),
                            step=int(p.step or 1), **kw)
        else:
            c = w.FloatSlider(value=self.demo.hp[p.name], min=p.low, max=p.high,
                              step=p.step or (p.high - p.low) / 100, **kw)
        c.observe(lambda change, name=p.name: self._on_control(name, change["new"]), names="value")
        return c

    def _on_control(self, name, value) -> None:
        if not self._quiet:
            self.set(**{name: value})

    def _sync_controls(self) -> None:
        """Move every control to the value the demo uses (after a refused value)."""
        self._quiet = True
        try:
            for name, control in self.controls.items():
                if control.value != self.demo.hp[name]:
                    control.value = self.demo.hp[name]
        finally:
            self._quiet = False

    # -- actions (buttons call these; tests call them directly)
    def play(self) -> None:
        if self.closed:
            return
        self.message = ""
        if self.demo.diverged:
            self._update_status()
            return
        if self.playing:
            return
        self.playing = True
        self._generation += 1
        self.task = asyncio.ensure_future(self._run(self._generation))
        self._update_status()

    def pause(self) -> None:
        """Stop training and draw the model as it is now (the last slice included)."""
        was_playing = self.playing
        self._stop()
        if was_playing:
            self.draw()

    def _stop(self) -> None:
        self.playing = False
        self._generation += 1
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._update_status()

    def _restart_if_playing(self) -> None:
        if self.playing:
            self._stop()
            self.play()

    def step_once(self) -> None:
        self._stop()
        self.message = ""
        self._guarded(lambda: self.demo.step(max(1, self.speed.value)))
        self.draw()

    def act(self, name: str) -> None:
        """One of the demo's extra actions (a button), as a counted, checked update."""
        self._stop()
        self.message = ""
        self._guarded(lambda: self.demo.act(name))
        self.draw()

    def reset(self) -> None:
        self._stop()
        self.message = ""
        self._guarded(self.demo.reset)
        self.draw(full=True)

    def set(self, **hp) -> None:
        """Change hyperparameters; a refused value leaves a message and the last good state."""
        self.message = ""
        try:
            self.demo.set(**hp)
        except (TypeError, ValueError) as err:
            self.message = f"Not applied: {err}"
            self._sync_controls()
            self.draw(full=True)
            return
        self.draw(full=True)

    def toggle_code(self) -> None:
        self.code.value = "" if self.code.value else self._code_html()

    def _code_html(self) -> str:
        source = self.demo.code() or ""
        return f"<pre style='font-size:12px;overflow-x:auto'>{html.escape(source)}</pre>"

    def _guarded(self, action) -> bool:
        try:
            action()
            return True
        except Exception as err:     # show it rather than break the widget
            self.message = f"Stopped: {type(err).__name__}: {err}"
            return False

    def close(self) -> None:
        """Stop training and close every widget of this view (a re-run cell calls it)."""
        self._stop()
        self.closed = True
        _close_tree(self.widget)

    # -- the background loop
    async def _run(self, generation: int) -> None:
        period = 1.0 / self.demo.fps
        last = polled = time.perf_counter()
        try:
            while self._generation == generation and not self.demo.diverged:
                slow = self.slow is not None and self.slow.value
                if slow:
                    self.demo.substep()
                else:
                    self.demo.step(self.speed.value, seconds=self.demo.slice_seconds)
                now = time.perf_counter()
                if slow or self.demo.diverged or now - last >= period:
                    self.draw()
                    last = now
                if slow:
                    await asyncio.sleep(self.demo.substep_seconds)
                else:
                    # let the kernel read the reader's clicks and the browser's "drawn":
                    # a message needs a few turns of the event loop, and a real (if tiny)
                    # sleep, once per POLL of training, lets timers and sockets go first
                    if time.perf_counter() - polled >= POLL:
                        await asyncio.sleep(0.001)
                        polled = time.perf_counter()
                    else:
                        await asyncio.sleep(0)
        except asyncio.CancelledError:
            return
        except Exception as err:  # show it rather than die silently in the background
            if self._generation == generation:
                self.message = f"Stopped: {type(err).__name__}: {err}"
        if self._generation == generation:
            self.playing = False
            self.draw()

    def draw(self, full: bool = False) -> None:
        """Redraw: only what changed (``frame``, ``metric_frame``), or, with ``full``, the
        whole figure and curves rebuilt from the demo's state (after a restart or a change
        of setting, so the figure never shows a state the demo is not in)."""
        if self.closed:
            return
        with untouched_random_state():
            if full:
                self.fig.set_figure(self._main_figure())
                self.curve.set_figure(self._curve_figure())
            else:
                self.fig.update_traces(self.demo.frame())
                curves = self.demo.metric_frame()
                if len(curves) != len(self.curve.data):
                    self.curve.set_figure(self._curve_figure())
                else:
                    self.curve.update_traces(curves)
        if self.code.value:                # keep shown code in step with the controls
            self.code.value = self._code_html()
        self.frames_drawn += 1
        self._update_status()

    def _update_status(self) -> None:
        d = self.demo
        if self.message:
            self.status.value = _message(self.message)
        elif d.diverged:
            self.status.value = f"<span style='{ERROR_STYLE}'><b>{html.escape(d.status)}</b></span>"
        else:
            state = "training…" if self.playing else "paused"
            note = d.note()
            self.status.value = f"{state} — {html.escape(d.summary())}" + (
                f" — {html.escape(note)}" if note else "")


def _close_tree(widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()
