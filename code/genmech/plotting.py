"""Plotting conventions shared by every chapter.

Figures are plotly figures. In a kernel they display as plotly's own output type, which
JupyterLab draws natively; on the static site :mod:`genmech.sphinxext` draws the same
output with plotly.js served from the site itself. Importing :mod:`genmech` sets the
renderer and the book's template.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

# One calm, colour-blind-friendly palette for the whole book (Okabe & Ito).
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def use_book_renderer() -> None:
    """Display figures as plotly's own output type, which both JupyterLab and the site draw."""
    pio.renderers.default = "plotly_mimetype"
    pio.templates.default = "plotly_white"


def compact(values, dtype=np.float32) -> np.ndarray:
    """Store figure data as float32: half the page weight, no visible difference.

    Values beyond float32's range (a diverging run) become +-inf rather than a warning."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=dtype)


def line_figure(series: dict[str, "np.ndarray"], *, x=None, title="", xaxis="step",
                yaxis="", log_y=False, height=300) -> go.Figure:
    """A small figure of one or more curves, named by the keys of ``series``."""
    fig = go.Figure()
    for i, (name, y) in enumerate(series.items()):
        y = compact(y)
        xs = compact(np.arange(len(y)) if x is None else x)
        fig.add_scatter(x=xs, y=y, mode="lines", name=name,
                        line=dict(color=COLORS[i % len(COLORS)], width=2))
    fig.update_layout(title=title, height=height, margin=dict(l=50, r=20, t=40, b=40),
                      xaxis_title=xaxis, yaxis_title=yaxis)
    if log_y:
        fig.update_yaxes(type="log")
    return fig
