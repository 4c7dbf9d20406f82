"""Sampling from a language model: greedy, temperature, top-k and top-p (nucleus).

The chapter *Transformers and language models* reads this module (section *Sampling*).
A model gives logits ``z`` over the vocabulary for the next token. We reshape them, then
draw one token:

* **temperature** ``T``: ``p_i ∝ exp(z_i / T)``; ``T -> 0`` is greedy (always the argmax),
  ``T = 1`` the model's own distribution, ``T > 1`` flatter;
* **top-k**: keep the ``k`` most probable tokens, renormalise;
* **top-p** (nucleus sampling, Holtzman et al., 2020): keep the smallest set of most
  probable tokens whose probabilities add up to at least ``p``, renormalise.

:class:`GenerationExplorer` puts the three knobs on sliders beside a bar chart of the
next-token distribution.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
import torch

from .live import animate, mode
from .plotting import COLORS, compact


# --------------------------------------------------------------------------- the filters
def top_k_filter(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Set every logit outside the ``k`` largest to -inf (``None``: keep all)."""
    if k is None:
        return logits
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k must be a positive int or None, got {k!r}")
    k = min(int(k), logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Keep the smallest set of most probable tokens with total probability >= ``p``."""
    if p is None:
        return logits
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p!r}")
    if p == 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = probs.cumsum(-1) - probs               # mass of the tokens ranked above each one
    drop_sorted = before >= p                       # the top token is always kept
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
    """The distribution we sample from: temperature, then top-k, then top-p.

    ``temperature == 0`` is greedy decoding: all probability on the most likely token.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    z = top_p_filter(top_k_filter(logits / temperature, top_k), top_p)
    return torch.softmax(z, dim=-1)


@torch.no_grad()
def next_logits(model, ids: torch.Tensor) -> torch.Tensor:
    """The model's logits for the token after ``ids`` (1-D), cropped to its context."""
    model.eval()
    device = next(model.parameters()).device
    context = ids[-model.config.block_size:][None].to(device)   # (1, T)
    return model(context)[0][0, -1].float().cpu()               # (V,)


@torch.no_grad()
def generate(model, ids: torch.Tensor, n: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, seed: int = 0) -> torch.Tensor:
    """Append ``n`` sampled tokens to the 1-D tensor ``ids``, one at a time; return all of them."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    gen = torch.Generator().manual_seed(seed)
    ids = ids.clone()
    for _ in range(n):
        probs = next_token_probs(next_logits(model, ids), temperature, top_k, top_p)
        nxt = torch.multinomial(probs, 1, generator=gen)
        ids = torch.cat([ids, nxt])
    return ids


# --------------------------------------------------------------------------- measuring samples
def distinct_n(words: list[str], n: int = 2) -> float:
    """Distinct ``n``-grams divided by all ``n``-grams: low when a text repeats itself."""
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def invented_rate(words: list[str], known: set[str]) -> float:
    """The fraction of ``words`` that never occur in the training text: high when it rambles."""
    return sum(w not in known for w in words) / len(words) if words else 0.0


# --------------------------------------------------------------------------- the explorer
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
