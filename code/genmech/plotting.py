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

# One calm, colour-blind-friendly palette for the whole book (Okabe & Ito): blue, orange,
# green, vermillion (the text's "red"), pink, sky blue, yellow, black. Two classes are
# always COLORS[0] (class 0) and COLORS[3] (class 1); real data COLORS[2], generated COLORS[4].
# A figure never shows the orange and the vermillion as two series of one kind.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


# Ten classes (the digits 0-9) cannot be told apart by colour alone, least of all by a
# colour-blind reader: each class has a colour *and* a marker shape.
CLASS_COLORS = COLORS[:6] + ["#000000", "#7F7F7F", "#332288", "#882255"]
CLASS_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross",
                 "x", "star", "pentagon", "hexagon"]


def class_marker(c: int, size: float = 5, **kw) -> dict:
    """The marker of class ``c`` (0-9): its colour and its shape, the same in every figure."""
    if not 0 <= int(c) < len(CLASS_COLORS):
        raise ValueError(f"class must be 0 to {len(CLASS_COLORS) - 1}, got {c!r}")
    return dict(size=size, color=CLASS_COLORS[int(c)], symbol=CLASS_SYMBOLS[int(c)], **kw)


def use_book_renderer() -> None:
    """Display figures as plotly's own output type, which both JupyterLab and the site draw."""
    pio.renderers.default = "plotly_mimetype"
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.colorway = COLORS          # a trace without a colour takes the book's
    # a colour bar's title runs along its side: above the bar it sits on the top label ("1")
    for kind in ("heatmap", "contour"):
        for trace in getattr(template.data, kind):
            trace.colorbar.title.side = "right"
    pio.templates["genmech"] = template
    pio.templates.default = "genmech"


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
