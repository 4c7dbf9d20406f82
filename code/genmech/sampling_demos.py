"""The sampling explorer: the view of :mod:`genmech.sampling` (temperature, top-k, and
top-p or nucleus sampling, Holtzman et al., 2020).

:class:`GenerationExplorer` lets a reader type a prompt, shape the next-token
distribution with three knobs, and step or generate; :func:`shown` makes a character
visible on a bar chart's axis. The filters and the sampler are in :mod:`genmech.sampling`.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go
import torch

from .live import animate, mode
from .plotting import COLORS, compact
from .sampling import next_logits, next_token_probs, top_k_filter


def shown(c: str) -> str:
    return {" ": "␣", "\n": "⏎"}.get(c, c)


class GenerationExplorer:
    """Type a prompt, shape the next-token distribution, step or generate.

    Headless: ``set(...)``, ``distribution()``, ``step()``, ``generate(n)``, ``text``.
    ``show()`` displays widgets in a live kernel, and a figure with a temperature slider
    when the book is built.
    """

    TOP = 20    # bars drawn

    def __init__(self, model, vocab, prompt: str = "The ", seed: int = 0):
        self.model, self.vocab = model, vocab
        self.temperature, self.top_k, self.top_p = 1.0, len(vocab), 1.0
        self.gen = torch.Generator().manual_seed(seed)
        self.set(prompt=prompt)

    def set(self, prompt: str | None = None, temperature: float | None = None,
            top_k: int | None = None, top_p: float | None = None) -> None:
        if prompt is not None:
            self.vocab.encode(prompt)                      # raises on unknown characters
            self.text = prompt
        if temperature is not None:
            if not 0 <= temperature <= 10:
                raise ValueError(f"temperature must be between 0 and 10, got {temperature}")
            self.temperature = float(temperature)
        if top_k is not None:
            top_k_filter(torch.zeros(1), top_k)             # validates
            self.top_k = int(top_k)
        if top_p is not None:
            if not 0 < top_p <= 1:
                raise ValueError(f"top_p must be in (0, 1], got {top_p}")
            self.top_p = float(top_p)

    def logits(self) -> torch.Tensor:
        return next_logits(self.model, self.vocab.encode(self.text))

    def distribution(self) -> torch.Tensor:
        """The next-token probabilities after the current text, with the knobs applied."""
        return next_token_probs(self.logits(), self.temperature, self.top_k, self.top_p)

    def step(self) -> str:
        """Sample one token, append it to the text, return it."""
        c = self.vocab.decode(torch.multinomial(self.distribution(), 1, generator=self.gen))
        self.text += c
        return c

    def generate(self, n: int = 100) -> str:
        return "".join(self.step() for _ in range(n))

    # -- figures
    def _bars(self, probs: torch.Tensor, raw: torch.Tensor, order: torch.Tensor):
        labels = [shown(self.vocab.chars[i]) for i in order.tolist()]
        return labels, compact(probs[order].numpy()), compact(raw[order].numpy())

    def figure(self) -> go.Figure:
        """Bars: the model's own distribution (grey) and the one sampled from (blue)."""
        raw = torch.softmax(self.logits(), -1)
        order = raw.argsort(descending=True)[:self.TOP]
        labels, probs, raw_p = self._bars(self.distribution(), raw, order)
        fig = go.Figure()
        fig.add_bar(x=labels, y=raw_p, name="model (T = 1, no filter)", marker_color="#BBBBBB")
        fig.add_bar(x=labels, y=probs, name="sampled from", marker_color=COLORS[0])
        tail = html.escape(self.text[-60:].replace("\n", "⏎"))
        fig.update_layout(barmode="group", height=360, margin=dict(l=50, r=20, t=60, b=40),
                          title=dict(text=f"next character after “…{tail}”", font=dict(size=14)),
                          yaxis=dict(title="probability", range=[0, 1]),
                          xaxis=dict(title=f"the {self.TOP} most likely characters", type="category"),
                          legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
        return fig

    def temperature_figure(self, temperatures=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)) -> go.Figure:
        """The distribution at each temperature, on a slider: the static site's explorer."""
        saved = self.temperature
        snapshots = []
        for t in temperatures:
            self.temperature = t
            snapshots.append((f"{t:g}", [None, dict(y=compact(self.distribution()[self._order()].numpy()))]))
        self.temperature = saved
        final = self.figure()
        final.data[1].y = snapshots[-1][1][1]["y"]
        fig = animate(final, snapshots, duration=500)
        fig.layout.sliders[0].currentvalue.prefix = "temperature "
        return fig

    def _order(self):
        return torch.softmax(self.logits(), -1).argsort(descending=True)[:self.TOP]

    def show(self):
        from IPython.display import display

        if mode() == "record":
            display(self.temperature_figure())
        else:
            display(self.widget())

    def widget(self):
        """ipywidgets: prompt, three sliders with 'conservative' / 'random' ends, buttons."""
        import ipywidgets as w

        from .livefigure import LiveFigure    # redraws reliably in JupyterLab (see its docstring)

        fig = LiveFigure(self.figure())
        text = w.HTML()
        prompt = w.Text(value=self.text, description="prompt", continuous_update=False,
                        layout=w.Layout(width="60%"))
        style = {"description_width": "110px"}
        sliders = {
            "temperature": w.FloatSlider(value=self.temperature, min=0.0, max=3.0, step=0.05,
                                         description="temperature", style=style),
            "top_k": w.IntSlider(value=self.top_k, min=1, max=len(self.vocab), description="top-k",
                                 style=style),
            "top_p": w.FloatSlider(value=self.top_p, min=0.05, max=1.0, step=0.05,
                                   description="top-p", style=style),
        }
        status = w.HTML()

        def redraw():
            fig.set_figure(self.figure())             # bars, labels and title all change
            text.value = ("<pre style='white-space:pre-wrap'>" + html.escape(self.text) + "</pre>")

        def on_change(change, name):
            try:
                self.set(**{name: change["new"]})
                status.value = ""
            except ValueError as err:
                status.value = f"<span style='color:#D55E00'>{html.escape(str(err))}</span>"
            redraw()

        prompt.observe(lambda c: on_change(c, "prompt"), names="value")
        for name, s in sliders.items():
            s.observe(lambda c, name=name: on_change(c, name), names="value")
        buttons = {"Step": lambda: self.step(), "Generate 100": lambda: self.generate(100),
                   "Reset to prompt": lambda: self.set(prompt=prompt.value)}
        row = []
        for label, action in buttons.items():
            b = w.Button(description=label)
            b.on_click(lambda _b, act=action: (act(), redraw()))
            row.append(b)
        self.buttons = dict(zip(buttons, row))
        self.live_figure = fig
        redraw()
        lines = [w.HBox([w.Label("conservative"), s, w.Label("random")]) for s in sliders.values()]
        return w.VBox([prompt, *lines, w.HBox(row), status, fig, text])
