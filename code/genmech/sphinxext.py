"""How the book's plotly figures reach the static site (a Sphinx / myst-nb extension).

In a kernel, a figure is displayed as ``application/vnd.plotly.v1+json``, which JupyterLab
draws natively. Jupyter Book 1 does not know that output type and would silently drop
it, so :class:`PlotlyMimeRenderer` (registered as a ``myst_nb.mime_renderers`` entry point
in ``code/pyproject.toml``) turns it into a ``<div>`` and a ``Plotly.newPlot`` call. The
extension copies the ``plotly.min.js`` shipped inside the installed plotly package into
``_static/`` and loads it once, on exactly the pages that draw a figure: no CDN, and the
JavaScript always matches the Python package that made the figures.

Math is typeset by MathJax served the same way, from the copy that the
``django-static-mathjax`` package ships, so formulas render with no CDN either.

It also makes notebooks executed by the build record their demos rather than show live
widgets (whose saved state would weigh megabytes per page): see :func:`genmech.live.mode`.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mathjax  # the django-static-mathjax package: MathJax 3, no Django needed
import plotly
import plotly.io as pio
from docutils import nodes

PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}


class PlotlyMimeRenderer:
    """myst-nb mime renderer: a plotly figure becomes HTML that expects plotly.js on the page."""

    # choose the figure over any text/html or text/plain twin in the same output
    mime_priority_overrides = [("html", PLOTLY_MIME, 25), ("dirhtml", PLOTLY_MIME, 25)]

    @staticmethod
    def handle_mime(renderer, data, inline):
        if data.mime_type != PLOTLY_MIME:
            return None
        figure = data.content if isinstance(data.content, dict) else json.loads(data.string)
        html = pio.to_html(figure, include_plotlyjs=False, full_html=False, validate=False,
                           auto_play=False,  # a recorded run starts when the reader presses Play
                           config=FIGURE_CONFIG)
        return [nodes.raw(text=html, format="html", classes=["output", "text_html", "plotly"])]


def _add_plotly_where_needed(app, pagename, templatename, context, doctree):
    if "Plotly.newPlot" in context.get("body", ""):
        app.add_js_file("plotly.min.js", priority=400)


def _serve_mathjax_locally(app, config):
    config.mathjax_path = "mathjax/tex-mml-chtml.js"


def _copy_javascript(app, exception):
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PLOTLY_JS, static / "plotly.min.js")
        shutil.copytree(MATHJAX, static / "mathjax", dirs_exist_ok=True)


def setup(app):
    if not PLOTLY_JS.exists():
        raise RuntimeError(f"plotly.min.js not found at {PLOTLY_JS}; is plotly installed?")
    # Kernels started by the build inherit this environment.
    os.environ.setdefault("GENMECH_MODE", "record")
    app.connect("html-page-context", _add_plotly_where_needed)
    app.connect("config-inited", _serve_mathjax_locally)
    app.connect("build-finished", _copy_javascript)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
