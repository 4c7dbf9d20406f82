"""Figures and live demos of the end-to-end chapter: the views of :mod:`genmech.pipeline`
(data and preprocessing) and :mod:`genmech.finetune` (LoRA, fine-tuning, DPO).

* :func:`steps_figure`: steps of gradient descent to a stated loss against the learning
  rate, one curve per scaling of the inputs;
* :func:`learning_curve_figure`: test error against training-set size with its fitted
  power law;
* :func:`two_curves_figure`: a metric against a setting for several runs;
* :class:`FineTuneDemo`: a pretrained GPT fine-tuned on a second corpus, live, with the
  loss on both domains drawn as it trains and the LoRA rank as a control.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .plotting import COLORS, compact


def steps_figure(results: dict, max_steps: int, title: str = "") -> go.Figure:
    """``results[name][lr] = steps or None``: one line per scaling, log-log; a run that never
    reaches the loss within ``max_steps`` is left out (a gap in its line)."""
    fig = go.Figure()
    for i, (name, row) in enumerate(results.items()):
        lrs = sorted(row)
        fig.add_scatter(x=compact(lrs), y=[row[lr] for lr in lrs], name=name, mode="lines+markers",
                        line=dict(color=COLORS[i % len(COLORS)], width=2), connectgaps=False)
    fig.update_xaxes(type="log", title="learning rate η", exponentformat="power")
    fig.update_yaxes(type="log", title="steps to the target loss")
    fig.update_layout(title=title, height=330, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def learning_curve_figure(n, errors, fit: dict, title: str = "", yaxis: str = "test error") -> go.Figure:
    """Measured points and the fitted ``a n^(-b) + c`` on log-log axes, with the floor ``c``."""
    from .pipeline import power_law

    n = np.asarray(n, dtype=float)
    grid = np.geomspace(n.min(), n.max() * 4, 60)
    fig = go.Figure()
    fig.add_scatter(x=compact(n), y=compact(errors), mode="markers", name="measured",
                    marker=dict(color=COLORS[0], size=9))
    fig.add_scatter(x=compact(grid), y=compact(power_law(grid, fit["a"], fit["b"], fit["c"])),
                    mode="lines", name=f"fit {fit['a']:.3g} n^-{fit['b']:.2f} + {fit['c']:.3f}",
                    line=dict(color=COLORS[1], width=2))
    fig.add_scatter(x=compact([grid[0], grid[-1]]), y=compact([fit["c"], fit["c"]]), mode="lines",
                    name="floor c", line=dict(color="grey", dash="dot", width=1))
    fig.update_xaxes(type="log", title="training examples n")
    fig.update_yaxes(type="log", title=yaxis)
    fig.update_layout(title=title, height=330, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def two_curves_figure(x, series: dict, xaxis: str, yaxis: str, title: str = "",
                      log_x: bool = False, height: int = 300) -> go.Figure:
    """One line with markers per entry of ``series`` against ``x``."""
    fig = go.Figure()
    for i, (name, y) in enumerate(series.items()):
        fig.add_scatter(x=compact(x), y=compact(y), mode="lines+markers", name=name,
                        line=dict(color=COLORS[i % len(COLORS)], width=2))
    fig.update_xaxes(title=xaxis, type="log" if log_x else "linear")
    fig.update_yaxes(title=yaxis)
    fig.update_layout(title=title, height=height, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.3))
    return fig
