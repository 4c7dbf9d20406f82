"""A plotly figure that a live kernel redraws in place: the view half of a live demo.

Why not plotly's own ``FigureWidget``? In plotly 7 it opens its widget before setting the
figure's data, then sends the data as a separate update that its JavaScript ignores if
the view has already rendered; in JupyterLab 4 that race leaves the figure blank about
half of the time (seen on this stack, more often on a busy machine). :class:`LiveFigure`
sends the whole figure in the widget's initial state, then sends each redraw as one
message holding only the traces that changed; the browser merges them and calls
``Plotly.react``. plotly.js itself comes from the installed plotly package, once per
page, on request: no CDN.

The Python side keeps a ``go.Figure`` (``.data``, ``.layout``), so code and tests read
the current state exactly as they would read a figure.
"""
from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import anywidget
import numpy as np
import plotly
import plotly.graph_objects as go
import plotly.io as pio
import torch
import traitlets

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

_ESM = r"""
function loadPlotly(model) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__genmechPlotly) {
    window.__genmechPlotly = new Promise((resolve) => {
      const onMessage = (msg) => {
        if (!msg || msg.type !== "plotly-js") return;
        model.off("msg:custom", onMessage);
        const amd = window.define;          // plotly.js is UMD: make it set window.Plotly
        window.define = undefined;
        const script = document.createElement("script");
        script.textContent = msg.source;
        document.head.appendChild(script);
        window.define = amd;
        resolve(window.Plotly);
      };
      model.on("msg:custom", onMessage);
      model.send({ type: "need-plotly" });
    });
  }
  return window.__genmechPlotly;
}

function isPlain(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    && !ArrayBuffer.isView(value);
}

// arrays travel as binary buffers: {"__buffer__": i, dtype, shape} -> a typed array
// (rows of typed arrays for a 2D array, as plotly takes a heatmap's z)
function decode(obj, buffers) {
  if (Array.isArray(obj)) return obj.map((v) => decode(v, buffers));
  if (obj === null || typeof obj !== "object") return obj;
  if ("__buffer__" in obj) {
    const view = buffers[obj.__buffer__];
    const bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
    const flat = obj.dtype === "float32" ? new Float32Array(bytes) : new Float64Array(bytes);
    return unflatten(flat, obj.shape);
  }
  const out = {};
  for (const [key, value] of Object.entries(obj)) out[key] = decode(value, buffers);
  return out;
}

function unflatten(flat, shape) {
  if (shape.length <= 1) return flat;
  const [n, ...rest] = shape;
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => unflatten(flat.subarray(i * size, (i + 1) * size), rest));
}

function merge(target, update) {       // a new object: target with update merged in, deeply
  const out = { ...target };
  for (const [key, value] of Object.entries(update)) {
    out[key] = isPlain(value) && isPlain(target[key]) ? merge(target[key], value) : value;
  }
  return out;
}

export default {
  async render({ model, el }) {
    const div = document.createElement("div");
    div.className = "genmech-live-figure";
    el.appendChild(div);
    const Plotly = await loadPlotly(model);
    const config = { displaylogo: false, responsive: true };
    let fig = JSON.parse(JSON.stringify(model.get("figure")));
    await Plotly.newPlot(div, fig.data, fig.layout, config);
    model.send({ type: "drawn" });            // ready for the next frame
    const onFrame = async (msg, buffers) => {
      if (!msg || msg.type !== "frame") return;
      try {
        msg = { ...msg, data: decode(msg.data, buffers || []) };
        // changed traces become new objects, unchanged ones keep theirs: react redraws less;
        // nested properties (marker.color) merge as in Python, arrays are replaced
        fig.data = fig.data.map((trace, i) => (msg.data[i] ? merge(trace, msg.data[i]) : trace));
        await Plotly.react(div, fig.data, fig.layout, config);
      } catch (err) {
        console.error("genmech: a live frame failed to draw", err);
      } finally {
        // back-pressure: Python sends the next frame only after this one is handled (drawn
        // or failed: a failed draw must not freeze the figure), and a short pause keeps the
        // page free for the reader's clicks between frames
        setTimeout(() => model.send({ type: "drawn" }), 30);
      }
    };
    const onFigure = async () => {
      fig = JSON.parse(JSON.stringify(model.get("figure")));
      try {
        await Plotly.react(div, fig.data, fig.layout, config);
      } catch (err) {
        console.error("genmech: a live figure failed to draw", err);
      }
    };
    model.on("msg:custom", onFrame);
    model.on("change:figure", onFigure);
    return () => { model.off("msg:custom", onFrame); model.off("change:figure", onFigure); };
  },
};
"""


def plain(obj):
    """Strict-JSON data: arrays and tensors become lists, numpy scalars become numbers, and
    NaN or infinity becomes ``None`` (JSON ``null``, which plotly draws as a gap)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc" and not np.isfinite(obj).all():
            return np.where(np.isfinite(obj), obj, None).tolist()
        return obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def encode(obj, buffers: list):
    """Like :func:`plain`, but each float array becomes ``{"__buffer__": i, "dtype",
    "shape"}`` with its bytes appended to ``buffers`` (the widget's binary channel):
    smaller and faster than JSON text, and NaN travels as NaN (a gap) in binary."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "fiu" and obj.size:
        small = obj.dtype == np.float32 or (obj.dtype.kind in "iu" and obj.dtype.itemsize <= 2)
        array = np.ascontiguousarray(obj, dtype=np.float32 if small else np.float64)
        buffers.append(memoryview(array).cast("B"))
        return {"__buffer__": len(buffers) - 1, "dtype": str(array.dtype), "shape": list(array.shape)}
    if isinstance(obj, dict):
        return {k: encode(v, buffers) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if len(obj) > 8 and all(v is None or (isinstance(v, (int, float, np.number))
                                              and not isinstance(v, bool)) for v in obj):
            return encode(np.asarray(obj, dtype=np.float64), buffers)   # None: a gap (NaN)
        return [encode(v, buffers) for v in obj]
    return plain(obj)


def _merge_into(target: dict, update: dict) -> None:
    """Merge ``update`` into ``target``, nested dicts key by key (as plotly does)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = dict(value) if isinstance(value, dict) else value


def _figure_json(fig: go.Figure) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


class LiveFigure(anywidget.AnyWidget):
    """A figure widget for live demos: ``update_traces`` redraws only what changed."""

    _esm = _ESM
    figure = traitlets.Dict().tag(sync=True)

    def __init__(self, fig: go.Figure, **kwargs):
        fig = go.Figure(fig)
        super().__init__(figure=_figure_json(fig), **kwargs)
        self._fig = fig
        self._waiting: dict[int, dict] = {}   # trace index -> newest update not yet sent
        self._unread: dict[int, dict] = {}    # trace index -> updates not yet in ._fig
        self._in_flight = False               # a frame was sent and not yet drawn
        self.frames_sent = 0
        self.bytes_sent = 0
        self.on_msg(self._answer)

    # -- read the current state like a go.Figure (frames sent or waiting included)
    @property
    def data(self):
        self._apply_to_python_figure()
        return self._fig.data

    @property
    def layout(self):
        return self._fig.layout

    def to_figure(self) -> go.Figure:
        """A copy of the figure as drawn (every frame sent or waiting applied)."""
        self._apply_to_python_figure()
        return go.Figure(self._fig)

    # -- redraw
    def update_traces(self, updates: list) -> None:
        """Redraw with one dict of changed properties per trace (``None``: unchanged).

        Frames are sent one at a time: the next goes when the browser has drawn the last
        one, carrying the newest data of every trace changed meanwhile. A fast training
        loop therefore never floods the browser (which would delay the reader's clicks).
        Arrays travel as binary buffers (4 bytes a float32), not as JSON text.
        """
        if len(updates) > len(self._fig.data):
            raise ValueError(f"{len(updates)} trace updates for a figure of {len(self._fig.data)} traces")
        for i, update in enumerate(updates):
            if update is not None:
                _merge_into(self._waiting.setdefault(i, {}), update)
                _merge_into(self._unread.setdefault(i, {}), update)
        if not self._in_flight:
            self._send_waiting()

    def _send_waiting(self) -> None:
        if not self._waiting:
            return
        frame = [self._waiting.get(i) for i in range(len(self._fig.data))]
        self._waiting = {}
        buffers: list = []
        content = {"type": "frame", "data": encode(frame, buffers)}
        self._in_flight = True
        self.send(content, buffers)
        self.frames_sent += 1
        self.bytes_sent += sum(len(b) for b in buffers)

    def _apply_to_python_figure(self) -> None:
        # applied only when read: plotly's checks of every number cost more than training
        unread, self._unread = self._unread, {}
        for i, update in unread.items():
            self._fig.data[i].update(plain(update))

    def set_figure(self, fig: go.Figure) -> None:
        """Replace the whole figure (new traces, new layout)."""
        self._waiting, self._unread = {}, {}
        self._fig = go.Figure(fig)
        self.figure = _figure_json(self._fig)

    @contextlib.contextmanager
    def batch_update(self):
        """Change ``.data`` / ``.layout`` freely inside; the whole figure is sent at the end."""
        yield self
        self.figure = _figure_json(self._fig)

    def _answer(self, widget, content, buffers):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "need-plotly":
            self.send({"type": "plotly-js", "source": PLOTLY_JS.read_text(encoding="utf-8")})
        elif kind == "drawn":
            self._in_flight = False
            self._send_waiting()
