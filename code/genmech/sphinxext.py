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
import re
import shutil
from html import escape
from pathlib import Path

import mathjax  # the django-static-mathjax package: MathJax 3, no Django needed
import plotly
import plotly.io as pio
from docutils import nodes

PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# plotly.js's official cartesian partial bundle, same version: 1.5 MB instead of 4.8 MB
PLOTLY_CARTESIAN_JS = Path(__file__).parent / "static" / "plotly-cartesian.min.js"
CARTESIAN_TRACES = {"scatter", "bar", "box", "heatmap", "histogram", "histogram2d",
                    "histogram2dcontour", "contour", "image", "pie", "scatterternary", "violin"}
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
        figure = dict(figure, layout=dict(figure.get("layout", {})))
        # a figure sizes to its column on the site (a fixed width overflows a phone, and a
        # 760 px figure a 688 px desktop column); its height is kept
        figure["layout"].pop("width", None)
        figure["layout"]["autosize"] = True
        html = pio.to_html(figure, include_plotlyjs=False, full_html=False, validate=False,
                           auto_play=False,  # a recorded run starts when the reader presses Play
                           config=FIGURE_CONFIG)
        alt = describe(figure)
        traces = sorted(trace_types(figure))
        html = (f'<figure class="genmech-figure" role="img" aria-label="{escape(alt)}" '
                f'data-traces="{" ".join(traces)}">'
                f'{html}<figcaption class="genmech-alt">{escape(alt)}</figcaption></figure>')
        return [nodes.raw(text=html, format="html", classes=["output", "text_html", "plotly"])]


def trace_types(figure: dict) -> set[str]:
    """The plotly trace types a figure draws, its animation frames included."""
    traces = list(figure.get("data", []) or [])
    for frame in figure.get("frames", []) or []:
        traces += list(frame.get("data", []) or [])
    return {t.get("type", "scatter") for t in traces if isinstance(t, dict)}


def _text(value) -> str:
    """Plain text of a plotly title or label (which may be a dict, and may hold HTML)."""
    if isinstance(value, dict):
        value = value.get("text", "")
    return re.sub(r"<[^>]+>", " ", str(value or "")).replace("  ", " ").strip()


def describe(figure: dict) -> str:
    """A text alternative for a figure: what it shows, from its own title, axes and traces.

    An author can write it instead, in the figure's ``layout.meta.alt``; otherwise it is
    built from the figure: its title, each axis title, the named series and their kinds,
    the subplot titles, and, for a recorded run, how many steps it replays.
    """
    layout = figure.get("layout", {})
    meta = layout.get("meta")
    if isinstance(meta, dict) and meta.get("alt"):
        return str(meta["alt"])
    parts = []
    title = _text(layout.get("title"))
    parts.append(f"Figure: {title}." if title else "Figure.")
    panels = [_text(a.get("text")) for a in layout.get("annotations", []) or []
              if isinstance(a, dict) and a.get("showarrow") is False and _text(a.get("text"))]
    if panels:
        parts.append(f"Panels: {'; '.join(panels[:8])}.")
    axes = []
    for key in sorted(layout):
        if re.fullmatch(r"[xy]axis\d*", key) and isinstance(layout[key], dict):
            name = _text(layout[key].get("title"))
            if name and name not in axes:
                axes.append(name)
    if axes:
        parts.append(f"Axes: {', '.join(axes[:8])}.")
    kinds, names = [], []
    for trace in figure.get("data", []) or []:
        if trace.get("type") == "table":
            header = (trace.get("header") or {}).get("values") or []
            columns = [_text(h if not isinstance(h, list) else " ".join(map(str, h))) for h in header]
            cells = (trace.get("cells") or {}).get("values") or [[]]
            rows = len(cells[0]) if cells and isinstance(cells[0], list) else 0
            parts.append(f"A table of {rows} rows" + (f", columns: {', '.join(columns)}." if columns else "."))
            continue
        kind = {"scatter": "lines or points", "scattergl": "points", "heatmap": "heat map",
                "bar": "bars", "histogram": "histogram", "contour": "contours",
                "surface": "surface", "image": "image", "table": "table"}.get(
                    trace.get("type", "scatter"), trace.get("type", "scatter"))
        if kind not in kinds:
            kinds.append(kind)
        name = _text(trace.get("name"))
        if name and name not in names:
            names.append(name)
    if kinds:
        parts.append(f"Shows {', '.join(kinds)}" + (f": {', '.join(names[:10])}." if names else "."))
    frames = figure.get("frames") or []
    if frames:
        parts.append(f"A recorded run of {len(frames)} snapshots: Play replays it, the slider "
                     f"scrubs through it; it opens on the last one.")
    return " ".join(parts)


def _one_of_each_script(app, pagename, templatename, context, doctree):
    """Drop repeated scripts: sphinx-thebe's inline ``const THEBE_JS_URL`` was emitted twice
    on every page, and the second declaration threw an error in the console."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        # an inline script is registered once with filename None and once with ""
        key = (getattr(js, "filename", str(js)) or "",
               tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


def _add_plotly_where_needed(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if "Plotly.newPlot" not in body:
        return
    needed = set(" ".join(re.findall(r'data-traces="([^"]*)"', body)).split())
    script = "plotly-cartesian.min.js" if needed <= CARTESIAN_TRACES else "plotly.min.js"
    app.add_js_file(script, priority=400)


# The site's own small stylesheet and script, loaded on every page.
SITE_CSS = """
/* a figure's text alternative: read by screen readers, not drawn */
.genmech-alt { position: absolute; width: 1px; height: 1px; overflow: hidden;
               clip: rect(0 0 0 0); white-space: nowrap; }
figure.genmech-figure { margin: 0; }
/* code and its printed output wrap instead of scrolling sideways */
div.cell div.cell_input pre, div.cell div.cell_output pre, div.highlight pre {
    white-space: pre-wrap; overflow-wrap: anywhere; }
/* a long word in a heading ("reparameterization" at phone size) breaks instead of
   pushing the page sideways */
article h1, article h2, article h3 { overflow-wrap: break-word; hyphens: auto; }
/* inline code with long names breaks instead of pushing the page sideways */
article code.literal, article code.literal span.pre { white-space: normal;
    overflow-wrap: anywhere; }
/* a display equation wider than a phone scrolls in its own box, not the whole page */
mjx-container[display="true"] { display: block; max-width: 100%; overflow-x: auto;
    overflow-y: hidden; }
/* a table wider than the column scrolls in its own box instead of being cut off */
div.cell_output table, article table.table { display: block; max-width: 100%;
    overflow-x: auto; }
/* on a desktop the sidebar holds the search box: the header row held only a second one */
@media (min-width: 960px) { header.bd-header { display: none !important; } }
/* on a phone the plotly toolbar would sit on top of legends and titles */
@media (max-width: 640px) { .modebar-container { display: none !important; } }
"""

SITE_JS = r"""
// Plotly rejects the promise of an animation that Pause interrupts; its own buttons never
// catch it, so every Pause logged an uncaught error. That rejection is expected: drop it.
window.addEventListener('unhandledrejection', function (event) {
  if (event.reason === undefined || event.reason === null) { event.preventDefault(); }
});
// Search results: Sphinx takes a result's snippet from the page's whole main area, which
// in this theme begins with the header buttons (".pdf", "Binder", "Contents"). Take it
// from the article alone.
document.addEventListener('DOMContentLoaded', function () {
  // searchtools.js declares `const Search`: a global name, not a property of window
  if (typeof Search === 'undefined' || !Search.htmlToText) return;
  var original = Search.htmlToText;
  Search.htmlToText = function (htmlString, anchor) {
    var doc = new DOMParser().parseFromString(htmlString, 'text/html');
    var article = doc.querySelector('article.bd-article');
    if (!article) return original(htmlString, anchor);
    article.querySelectorAll('.headerlink, script, style').forEach(function (e) { e.remove(); });
    var part = anchor ? article.querySelector(anchor) : null;
    return (part || article).textContent;
  };
});
// On a narrow screen, smaller titles and labels, so that subplot titles do not run into
// each other and titles are not cut at the right edge.
(function () {
  // do two boxes on the screen overlap (by more than a pixel)?
  function meets(a, b) {
    return a.width > 0 && b.width > 0 && a.left < b.right - 1 && b.left < a.right - 1
      && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  }
  // `text` broken at spaces into lines of at most `perLine` visible characters (each of its
  // own <br>-separated lines on its own); null when it fits, or holds markup with attributes
  function wrap(text, perLine) {
    if (!text || perLine < 4 || /<[^>]*\s[^>]*>/.test(text)) return null;
    var visible = function (t) { return t.replace(/<[^>]*>/g, '').length; };
    var before = text.split('<br>'), after = [];
    before.forEach(function (part) {
      var line = '';
      part.split(' ').forEach(function (word) {
        if (line && visible(line + ' ' + word) > perLine) { after.push(line); line = word; }
        else { line = line ? line + ' ' + word : word; }
      });
      after.push(line);
    });
    return after.length > before.length ? {text: after.join('<br>'), added: after.length - before.length} : null;
  }
  // true when it starts fitting `gd` (it tidies the figure itself once that is drawn)
  function fit(gd) {
    if (!window.Plotly || !gd.layout || gd.dataset.genmechFitted) return false;
    var width = gd.getBoundingClientRect().width;
    if (!width || width >= 600) return false;
    gd.dataset.genmechFitted = '1';
    var scale = Math.max(0.7, width / 680), update = {};
    var font = (gd.layout.font && gd.layout.font.size) || 12;
    update['font.size'] = Math.round(font * scale);
    var title = gd.layout.title && gd.layout.title.font && gd.layout.title.font.size;
    var titleSize = Math.round((title || 17) * scale), extra = 0;
    update['title.font.size'] = titleSize;
    // a title longer than the figure is wide breaks onto as many lines as it needs, and the
    // top margin and the figure grow to hold them
    var titleText = gd.layout.title && (typeof gd.layout.title === 'string' ? gd.layout.title : gd.layout.title.text);
    var wrapped = wrap(titleText ? String(titleText) : '', Math.floor((width - 40) / (titleSize * 0.56)));
    if (wrapped) {
      update['title.text'] = wrapped.text;
      extra = Math.round(wrapped.added * titleSize * 1.3);
      update['margin.t'] = ((gd._fullLayout.margin && gd._fullLayout.margin.t) || 80) + extra;
    }
    var panels = Math.max(1, (gd.layout.annotations || []).filter(function (a) {
      return a.showarrow === false && a.yref === 'paper' && a.y >= 0.9; }).length);
    (gd.layout.annotations || []).forEach(function (a, i) {
      var size = (a.font && a.font.size) || 16;
      update['annotations[' + i + '].font.size'] = Math.round(size * scale);
      // a subplot title longer than its panel is wide breaks onto as many lines as it needs
      var room = Math.floor(width / panels / (size * scale * 0.55));
      var lines = a.showarrow === false ? wrap(String(a.text || ''), room) : null;
      if (lines) update['annotations[' + i + '].text'] = lines.text;
    });
    Object.keys(gd._fullLayout || {}).forEach(function (key) {
      var axis = gd._fullLayout[key];
      if (!/^xaxis\d*$/.test(key) || !axis || !axis._length) return;
      // many labels (characters, tokens: a category axis, or labels given as a list) turn
      // upright so that neighbours do not print over each other; single characters stay
      // level, smaller; where even that does not fit (8 px a label), every second (third,
      // ...) is labelled
      var own = gd.layout[key] || {}, vals = own.tickvals, text = own.ticktext;
      var listed = vals && text && vals.length === text.length;
      var labels = listed ? text : axis.type === 'category' ? (axis._categories || []) : [];
      if (labels.length > 12) {
        var longest = Math.max.apply(null, labels.map(function (c) { return String(c).length; }));
        update[key + '.tickangle'] = longest > 2 ? -90 : 0;
        update[key + '.tickfont.size'] = 9;
        var step = Math.ceil(8 * labels.length / axis._length);
        var keep = function (v, i) { return i % step === 0; };
        if (step > 1 && listed) { update[key + '.tickvals'] = vals.filter(keep); update[key + '.ticktext'] = text.filter(keep); }
        else if (step > 1) update[key + '.dtick'] = step;
      }
      // a narrow panel's numbers: three or four level labels, not five slanted into the next
      if (axis.type === 'linear' && axis._length < 100 && !own.dtick && !vals) update[key + '.nticks'] = 4;
    });
    // a legend standing to the right of the plot takes a third of a phone's width: lay it
    // out in rows at the foot of the figure instead (below a recorded run's Play button and
    // slider), its entries in reading order; `legendRoom` then gives it the height it takes
    var legend = gd._fullLayout && gd._fullLayout.legend, legendMoved = false;
    if (legend && gd._fullLayout.showlegend && legend.orientation === 'v' && legend.x >= 1) {
      update['legend.orientation'] = 'h'; update['legend.traceorder'] = 'normal';
      update['legend.x'] = 0; update['legend.xanchor'] = 'left';
      update['legend.yref'] = 'container'; update['legend.y'] = 0;
      update['legend.yanchor'] = 'bottom';
      update['margin.r'] = 20;
      update['margin.b'] = ((gd._fullLayout.margin && gd._fullLayout.margin.b) || 60) + 36;
      extra += 36; legendMoved = true;
    }
    if (extra) grow(gd, extra, update);
    window.Plotly.relayout(gd, update).then(function () {
      if (legendMoved) legendRoom(gd, 36);
      separate(gd); tidy(gd);
    });
    return true;
  }
  // at any width: subplot titles clear the tick labels below them, the title clears
  // everything below it, and two axes' labels clear each other at a corner
  function tidy(gd) {
    return Promise.resolve(liftSubplotTitles(gd)).then(function () { return clearTitle(gd); })
      .then(function () { return clearCorners(gd); });
  }
  // a subplot title sitting on the top tick label of its panel (a 1 at the top of a
  // probability axis) moves up until it clears it
  function liftSubplotTitles(gd) {
    if (!window.Plotly || !gd.layout) return;
    var nodes = Array.from(gd.querySelectorAll('.annotation'));
    var ticks = Array.from(gd.querySelectorAll('.xaxislayer-above text, .yaxislayer-above text'))
      .map(function (e) { return e.getBoundingClientRect(); });
    var update = {};
    (gd.layout.annotations || []).forEach(function (a, i) {
      if (!nodes[i] || a.showarrow !== false || a.yref !== 'paper' || !(a.y >= 0.9)) return;
      var b = nodes[i].getBoundingClientRect(), lift = 0;
      ticks.forEach(function (t) { if (meets(b, t)) lift = Math.max(lift, b.bottom - t.top); });
      if (lift > 0) update['annotations[' + i + '].yshift'] = (a.yshift || 0) + Math.ceil(lift) + 2;
    });
    if (Object.keys(update).length) return window.Plotly.relayout(gd, update);
  }
  // a legend moved to the foot of the figure that needs more rows than the `given` pixels:
  // the bottom margin and the figure grow by the difference
  function legendRoom(gd, given) {
    var box = gd.querySelector('.legend');
    if (!box) return;
    var need = Math.ceil(box.getBoundingClientRect().height) + 8 - given;
    if (need <= 0) return;
    var update = {};
    update['margin.b'] = ((gd._fullLayout.margin && gd._fullLayout.margin.b) || 60) + need;
    grow(gd, need, update);
    return window.Plotly.relayout(gd, update);
  }
  // a figure that needs more room grows by `extra` pixels (to_html fixes the box's height)
  function grow(gd, extra, update) {
    var grown = (gd._fullLayout.height || 450) + extra;
    update['height'] = grown;
    [gd, gd.parentElement].forEach(function (e) {
      if (e && e.style.height && e.style.height !== '100%') e.style.height = grown + 'px';
    });
  }
  // a legend row or subplot titles that still reach up into the title: a taller top margin
  // (the title sits in the middle of it, so it grows by twice the overlap)
  function clearTitle(gd) {
    var t = gd.querySelector('.gtitle');
    if (!t) return;
    var tb = t.getBoundingClientRect(), overlap = 0;
    gd.querySelectorAll('.annotation-text, .legendtext').forEach(function (e) {
      var b = e.getBoundingClientRect();
      if (meets(tb, b)) overlap = Math.max(overlap, tb.bottom - b.top);
    });
    if (!overlap) return;
    var add = Math.ceil(2 * overlap + 8), update = {};
    update['margin.t'] = ((gd._fullLayout.margin && gd._fullLayout.margin.t) || 80) + add;
    grow(gd, add, update);
    return window.Plotly.relayout(gd, update);
  }
  // subplot titles that still run into each other break onto two lines
  function separate(gd) {
    var nodes = Array.from(gd.querySelectorAll('.annotation'));
    var boxes = nodes.map(function (n) { return n.getBoundingClientRect(); });
    var update = {};
    (gd.layout.annotations || []).forEach(function (a, i) {
      if (!boxes[i] || a.showarrow !== false) return;
      var text = String(a.text || '');
      if (text.indexOf('<br>') >= 0) return;
      var hit = boxes.some(function (b, j) { return j !== i && meets(boxes[i], b); });
      if (!hit) return;
      var mid = text.length / 2, best = -1;
      for (var k = 0; k < text.length; k++) {
        if (text[k] === ' ' && (best < 0 || Math.abs(k - mid) < Math.abs(best - mid))) best = k;
      }
      if (best > 0) update['annotations[' + i + '].text'] = text.slice(0, best) + '<br>' + text.slice(best + 1);
    });
    if (Object.keys(update).length) window.Plotly.relayout(gd, update);
  }
  // a log axis spanning two decades or more labels its powers of ten only; a shorter one
  // that plotly would label at every digit (small 2, 3, ... 9 crowding each decade) labels
  // 2 and 5 only (at any width)
  function tidyLogAxes(gd) {
    if (!window.Plotly || !gd._fullLayout || gd.dataset.genmechLog) return;
    gd.dataset.genmechLog = '1';
    var update = {};
    Object.keys(gd._fullLayout).forEach(function (key) {
      var axis = gd._fullLayout[key];
      if (/^[xy]axis\d*$/.test(key) && axis && axis.type === 'log' && axis.range
          && !(gd.layout[key] && gd.layout[key].dtick)) {
        if (Math.abs(axis.range[1] - axis.range[0]) >= 2) update[key + '.dtick'] = 1;
        else if (axis.dtick === 'D1') update[key + '.dtick'] = 'D2';
      }
    });
    if (Object.keys(update).length) window.Plotly.relayout(gd, update);
  }
  // where the first label of an x axis and the lowest label of its y axis meet at the
  // corner of the plot, the x axis's labels step down until they clear it (at any width)
  function clearCorners(gd) {
    if (!window.Plotly || !gd._fullLayout) return;
    var box = function (e) { return e.getBoundingClientRect(); };
    var update = {};
    Object.keys(gd._fullLayout).forEach(function (key) {
      var axis = gd._fullLayout[key];
      if (!/^xaxis\d*$/.test(key) || !axis || !axis._id || !/^y\d*$/.test(axis.anchor || '')) return;
      var xs = Array.from(gd.querySelectorAll('.' + axis._id + 'tick text')).map(box);
      var ys = Array.from(gd.querySelectorAll('.' + axis.anchor + 'tick text')).map(box);
      var push = 0;
      xs.forEach(function (a) { ys.forEach(function (b) {
        if (meets(a, b)) push = Math.max(push, b.bottom - a.top);
      }); });
      if (push > 0) update[key + '.ticklabelstandoff'] = Math.ceil((axis.ticklabelstandoff || 0) + push + 2);
    });
    if (Object.keys(update).length) return window.Plotly.relayout(gd, update);
  }
  function fitAll() {
    document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
      tidyLogAxes(gd);
      if (!fit(gd)) tidy(gd);
    });
  }
  window.addEventListener('load', function () { fitAll(); setTimeout(fitAll, 500); });
  // a figure inside a closed dropdown or an unselected tab has no width at load: fit it when
  // the reader opens it
  document.addEventListener('toggle', function () { setTimeout(fitAll, 100); }, true);
  document.addEventListener('change', function () { setTimeout(fitAll, 100); }, true);
})();
"""


def _serve_mathjax_locally(app, config):
    config.mathjax_path = "mathjax/tex-mml-chtml.js"


SEARCH_INDEX = re.compile(r'\s*<script src="[^"]*searchindex\.js"></script>')


def drop_search_index(html_dir: Path) -> int:
    """Stop every page but the search page from loading the search index.

    The theme loads ``searchindex.js`` (0.24 MB, growing with the book) on every page for
    an inline search this book does not use (``search_as_you_type`` is off): a query goes to
    ``search.html``, which loads the index itself. Returns the number of pages changed.
    """
    changed = 0
    for page in Path(html_dir).rglob("*.html"):
        if page.name == "search.html":
            continue
        text = page.read_text(encoding="utf-8")
        lighter = SEARCH_INDEX.sub("", text)
        if lighter != text:
            page.write_text(lighter, encoding="utf-8")
            changed += 1
    return changed


def _copy_javascript(app, exception):
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PLOTLY_JS, static / "plotly.min.js")
        shutil.copyfile(PLOTLY_CARTESIAN_JS, static / "plotly-cartesian.min.js")
        (static / "genmech.css").write_text(SITE_CSS, encoding="utf-8")
        # The theme loads Font Awesome twice: as web fonts from its CSS, and as a 1.5 MB
        # script that swaps every icon for an SVG. The fonts alone draw the same icons.
        fontawesome = static / "scripts" / "fontawesome.js"
        if fontawesome.exists():
            fontawesome.write_text("// icons: the theme's Font Awesome web fonts "
                                   "(see genmech.sphinxext)\n", encoding="utf-8")
        (static / "genmech.js").write_text(SITE_JS, encoding="utf-8")
        shutil.copytree(MATHJAX, static / "mathjax", dirs_exist_ok=True)
        drop_search_index(Path(app.outdir))


def setup(app):
    if not PLOTLY_JS.exists():
        raise RuntimeError(f"plotly.min.js not found at {PLOTLY_JS}; is plotly installed?")
    # Kernels started by the build inherit this environment.
    os.environ.setdefault("GENMECH_MODE", "record")
    app.connect("html-page-context", _add_plotly_where_needed)
    app.connect("html-page-context", _one_of_each_script, priority=100)
    app.connect("config-inited", _serve_mathjax_locally)
    app.connect("build-finished", _copy_javascript)
    app.add_css_file("genmech.css")
    app.add_js_file("genmech.js", priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
