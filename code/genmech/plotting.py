"""Plotting conventions shared by every chapter: the palette, compact figure data, small
figures and tables.

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


def html_table(header: list, rows: list, caption: str = ""):
    """A small HTML table for a notebook and the website (Markdown tables in cell outputs are
    not rendered by the book's CommonMark output parser)."""
    from html import escape

    from IPython.display import HTML

    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return HTML(f'<table class="table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')
