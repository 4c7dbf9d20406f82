"""The transformer chapter's demos: the views of :mod:`genmech.gpt` (Radford et al., 2018,
2019; Vaswani et al., 2017).

* :class:`ReverseDemo`: a one-block GPT learns to reverse a sequence of digits, and its
  attention map shows where it looks;
* :class:`GPTDemo`: a GPT trained on the book's corpus, with its loss, a sample from a
  fixed prompt and an attention map drawn as it learns;
* the measurements of section *Inside a modern transformer*: :func:`compare_positions`
  (the same GPT with each way of encoding positions, trained at the same budget),
  :func:`attention_seconds` (the cost of attention against the sequence length),
  :func:`generation_seconds` (generation with and without the key-value cache) and
  :func:`loglog_figure` (time against length on log axes, with the fitted slope);
* section *Scaling and beyond*: :func:`non_embedding_parameters` and
  :func:`scaling_points` (tiny GPTs of growing width, trained at one budget).

The model and its data are in :mod:`genmech.gpt`; sampling in :mod:`genmech.sampling`.
"""
from __future__ import annotations

import html
import time

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import device as default_device
from .attention import attend
from .gpt import (GPT, FeedForward, GPTConfig, generate_cached, prepare_corpus, reverse_accuracy,
                  reverse_batch)
from .live import Demo, Slider
from .lm import random_batch, train_lm
from .nets import set_learning_rate
from .plotting import COLORS
from .probability import loglog_slope  # noqa: F401  (the fitted slope of a log-log figure)
from .sampling import generate


# --------------------------------------------------------------------------- reversing digits
class ReverseDemo(Demo):
    """A one-block GPT learns to reverse eight digits; its attention map shows how."""

    title = "Learning to reverse a sequence: where does each output position look?"
    params = (Slider("lr", 1e-4, 3e-1, 3e-3, log=True, label="learning rate"),)
    curves = ("loss",)
    blowup = {"loss": 10.0}        # ten times the loss of the untrained model: overshooting
    length = 8

    def build(self):
        self.config = GPTConfig(vocab_size=11, block_size=2 * self.length, n_layer=1, n_head=1,
                                n_embd=32)
        self.model = GPT(self.config)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.hp["lr"], weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(self.seed)
        self.probe = reverse_batch(1, self.length, torch.Generator().manual_seed(7))[0]
        self.accuracy = 0.0

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])

    def train_step(self):
        x, y = reverse_batch(64, self.length, self.gen)
        _, loss = self.model(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.steps % 25 == 0:
            self.accuracy = reverse_accuracy(self.model, self.length, n=200)
        return {"loss": loss.item(), "accuracy": self.accuracy}

    def labels(self) -> list[str]:
        return [("|" if t == 10 else str(int(t))) + f"·{i}" for i, t in enumerate(self.probe[0])]

    def attention(self) -> np.ndarray:
        """Attention of the probe sequence, ``(T, T)``: row = query position, column = key."""
        with torch.no_grad():
            self.model(self.probe)
        return self.model.attention_maps()[0][0, 0].numpy()

    def figure(self):
        labels = self.labels()
        fig = go.Figure(go.Heatmap(z=self.attention(), x=labels, y=labels, colorscale="Blues",
                                   zmin=0, zmax=1, colorbar=dict(title="weight")))
        fig.update_layout(height=470, width=560, margin=dict(l=60, r=20, t=50, b=60),
                          title=f"input {''.join(l[0] for l in labels[:self.length])} — attention of each position",
                          xaxis_title="key (looked at)", yaxis_title="query (looking)",
                          yaxis=dict(autorange="reversed"))
        return fig

    def frame(self):
        return [dict(z=self.attention())]


# --------------------------------------------------------------------------- the corpus demo
def wrap(text: str, width: int = 44) -> str:
    """Text for a plotly label: HTML-escaped, newlines shown as ⏎, lines of ``width`` chars."""
    text = text.replace("\n", "⏎")
    lines = [html.escape(text[i:i + width]) for i in range(0, len(text), width)]
    return "<br>".join(lines)


class GPTDemo(Demo):
    """A small GPT learns the corpus character by character: loss, a sample, attention."""

    title = "Training a small GPT on scikit-learn's dataset descriptions"
    params = (Slider("lr", 1e-4, 3.0, 3e-3, log=True, label="learning rate"),)
    curves = ("train loss", "valid loss")
    blowup = {"train loss": 10.0}   # ten times the loss of a uniform guess: the steps overshoot
    prompt = "The dataset "
    probe = "The number of clusters to form."
    sample_every = 40        # a sample is drawn every this many steps (while training, so
                             # that recorded and live runs keep the same samples)
    sample_length = 100

    def __init__(self, seed: int = 0, config: GPTConfig | None = None, batch_size: int = 32, **hp):
        self.base_config = config
        self.batch_size = batch_size
        super().__init__(seed=seed, **hp)

    def build(self):
        self._generate = generate
        self.vocab, self.data = prepare_corpus()
        base = self.base_config or GPTConfig()
        self.config = GPTConfig(**{**base.__dict__, "vocab_size": len(self.vocab)})
        self.device = default_device()
        self.model = GPT(self.config).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.hp["lr"], weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(self.seed)
        self.valid = float("nan")
        self.samples: dict[int, str] = {}     # step -> the sample drawn then, for a table
        self._draw_sample(0)

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])

    def train_step(self):
        self.model.train()
        x, y = random_batch(self.data["train"], self.config.block_size, self.batch_size, self.gen)
        _, loss = self.model(x.to(self.device), y.to(self.device))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        metrics = {"train loss": loss.item()}
        if self.steps % 50 == 0 or not np.isfinite(self.valid):
            self.valid = self.validation_loss()
        metrics["valid loss"] = self.valid
        if (self.steps + 1) % self.sample_every == 0:
            self._draw_sample(self.steps + 1)
        return metrics

    @torch.no_grad()
    def validation_loss(self, tokens: int = 2048) -> float:
        """The loss on the first ``tokens`` characters of the validation split (fast, fixed)."""
        return self.model.loss_on(self.data["valid"][:tokens])

    def _draw_sample(self, step: int) -> None:
        """A sample from the fixed prompt, with a fixed random seed: only the model changes."""
        ids = self._generate(self.model, self.vocab.encode(self.prompt), self.sample_length,
                             temperature=0.8, seed=0)
        self.samples[step] = self.vocab.decode(ids[len(self.prompt):])

    def sample(self) -> str:
        """The latest sample (drawn every ``sample_every`` steps)."""
        return self.samples[max(self.samples)]

    def attention(self) -> np.ndarray:
        """The last block's first head, on the probe sentence: ``(T, T)``."""
        probe = self.probe[-self.config.block_size:]
        with torch.no_grad():
            self.model(self.vocab.encode(probe)[None].to(self.device))
        return self.model.attention_maps()[-1][0, 0].cpu().numpy()

    def _text(self):
        return f"<b>{html.escape(self.prompt)}</b>…<br>" + wrap(self.sample(), 36)

    def figure(self):
        chars = [c if c != " " else "␣" for c in self.probe[-self.config.block_size:]]
        ticks = dict(tickmode="array", tickvals=list(range(len(chars))), ticktext=chars,
                     tickfont=dict(family="monospace", size=9))
        fig = make_subplots(rows=1, cols=2, column_widths=[0.56, 0.44], horizontal_spacing=0.08,
                            subplot_titles=("sample from a fixed prompt (T = 0.8)",
                                            "attention: last block, head 1"))
        fig.add_scatter(x=[0], y=[1], mode="text", text=[self._text()], textposition="bottom right",
                        textfont=dict(family="monospace", size=12, color=COLORS[7]),
                        showlegend=False, hoverinfo="skip", row=1, col=1)
        fig.add_heatmap(z=self.attention(), colorscale="Blues", zmin=0, zmax=1, showscale=False,
                        row=1, col=2)
        fig.update_xaxes(visible=False, range=[0, 1], row=1, col=1)
        fig.update_yaxes(visible=False, range=[0, 1.02], row=1, col=1)
        fig.update_xaxes(title_text="key (looked at)", row=1, col=2, **ticks)
        fig.update_yaxes(autorange="reversed", title_text="query (looking)", row=1, col=2, **ticks)
        fig.update_layout(height=420, margin=dict(l=10, r=10, t=50, b=40))
        return fig

    def frame(self):
        return [dict(text=[self._text()]), dict(z=self.attention())]


# --------------------------------------------------------------------------- inside a modern transformer
def train_variant(config: GPTConfig, data: dict, steps: int, seed: int = 0, batch_size: int = 32,
                  lr: float = 3e-3, valid_tokens: int = 8192) -> tuple[GPT, float]:
    """Train a GPT of ``config`` for ``steps`` steps on ``data["train"]``; return it and its
    loss on the first ``valid_tokens`` characters of ``data["valid"]``.

    The seed fixes both the initial weights and the batches, so that two configurations
    trained with the same seed see exactly the same text in the same order.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    torch.manual_seed(seed)
    model = GPT(config)
    train_lm(model, data["train"], steps, context=config.block_size, batch_size=batch_size,
             lr=lr, seed=seed)
    return model, model.loss_on(data["valid"][:valid_tokens])


def compare_positions(data: dict, vocab_size: int, steps: int = 300, seed: int = 0,
                      variants: dict | None = None) -> dict[str, tuple[GPT, float]]:
    """The default GPT with each of :data:`genmech.gpt.POSITIONS`, and with learned positions
    and tied weights, each trained by :func:`train_variant` with the same seed and budget."""
    if variants is None:
        variants = {name: dict(position=name) for name in ("learned", "sinusoidal", "rotary", "none")}
        variants["learned, tied"] = dict(position="learned", tie_weights=True)
    return {name: train_variant(GPTConfig(vocab_size=vocab_size, **options), data, steps, seed)
            for name, options in variants.items()}


def seconds(fn, repeats: int = 3) -> float:
    """The shortest wall time of ``repeats`` calls of ``fn()``: the least disturbed run."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@torch.no_grad()
def attention_seconds(lengths, d_model: int = 128, n_head: int = 4, repeats: int = 3,
                      seed: int = 0) -> dict[str, list[float]]:
    """For each sequence length ``T`` in ``lengths``, the seconds of the two halves of a block
    on one sequence: causal :func:`~genmech.attention.attend` over ``n_head`` heads (the
    ``T x T`` scores and the weighted sum of values) and the feed-forward network of width
    ``d_model``. :func:`block_flops` counts their arithmetic."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mlp = FeedForward(GPTConfig(n_embd=d_model, n_head=n_head))
    times = {"attention": [], "feed-forward": []}
    for T in lengths:
        q, k, v = torch.randn(3, 1, n_head, int(T), d_model // n_head, generator=gen)
        x = torch.randn(1, int(T), d_model, generator=gen)
        times["attention"].append(seconds(lambda: attend(q, k, v, causal=True), repeats))
        times["feed-forward"].append(seconds(lambda: mlp(x), repeats))
    return times


@torch.no_grad()
def block_flops(lengths, d_model: int = 128, n_head: int = 4) -> dict[str, list[int]]:
    """The floating-point operations of the same two halves as :func:`attention_seconds`,
    counted by PyTorch (``torch.utils.flop_counter``, matrix products only): ``4 T^2 d_model``
    for attention, ``16 T d_model^2`` for the feed-forward network."""
    from torch.utils.flop_counter import FlopCounterMode
    mlp = FeedForward(GPTConfig(n_embd=d_model, n_head=n_head))
    flops = {"attention": [], "feed-forward": []}
    for T in lengths:
        q = k = v = torch.zeros(1, n_head, int(T), d_model // n_head)
        for name, fn in (("attention", lambda: attend(q, k, v, causal=True)),
                         ("feed-forward", lambda: mlp(torch.zeros(1, int(T), d_model)))):
            with FlopCounterMode(display=False) as counter:
                fn()
            flops[name].append(int(counter.get_total_flops()))
    return flops


def generation_seconds(model: GPT, lengths, repeats: int = 1, seed: int = 0) -> dict[str, list[float]]:
    """Seconds to generate ``n`` tokens after a one-token prompt, for each ``n`` in
    ``lengths``, without the cache (:func:`genmech.sampling.generate`, which re-reads the
    whole text at every step) and with it (:func:`genmech.gpt.generate_cached`)."""
    prompt = torch.zeros(1, dtype=torch.long)
    times = {"without cache": [], "with cache": []}
    for n in lengths:
        times["without cache"].append(seconds(lambda: generate(model, prompt, int(n), seed=seed), repeats))
        times["with cache"].append(seconds(lambda: generate_cached(model, prompt, int(n), seed=seed), repeats))
    return times


def loglog_figure(x, series: dict, title: str, xaxis: str, yaxis: str, alt: str,
                  reference: float | None = None) -> go.Figure:
    """Curves of ``series`` against ``x`` on log-log axes; ``reference`` adds a dotted line of
    that slope through the first curve's last point, for the eye."""
    fig = go.Figure()
    for i, (name, y) in enumerate(series.items()):
        fig.add_scatter(x=list(x), y=[float(v) for v in y], mode="lines+markers", name=name,
                        line=dict(color=COLORS[(0, 2, 4, 5)[i % 4]], width=2))
    if reference is not None:
        first = [float(v) for v in next(iter(series.values()))]
        xs = np.asarray(x, float)
        ref = first[-1] * (xs / xs[-1]) ** reference
        fig.add_scatter(x=list(xs), y=list(ref), mode="lines", name=f"slope {reference:g}",
                        line=dict(color=COLORS[7], width=1, dash="dot"))
    fig.update_xaxes(type="log", title_text=xaxis)
    fig.update_yaxes(type="log", title_text=yaxis)
    fig.update_layout(title=title, height=340, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.25), meta=dict(alt=alt))
    return fig


# --------------------------------------------------------------------------- scaling
def non_embedding_parameters(model: GPT) -> int:
    """Parameters outside the token and position embeddings and the output layer: the
    ``N`` of Kaplan et al. (2020), who found it predicts the loss better than the total."""
    skip = {id(p) for m in (model.tok_emb, model.pos_emb, model.head) if m is not None for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def scaling_points(data: dict, vocab_size: int, widths=(8, 16, 24, 32, 48, 64), steps: int = 250,
                   n_layer: int = 2, n_head: int = 4, seed: int = 0) -> list[dict]:
    """Train the default GPT at each width in ``widths`` (same depth, heads, data, batches and
    steps, by :func:`train_variant`); return its width, parameters and validation loss."""
    points = []
    for width in widths:
        config = GPTConfig(vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, n_embd=int(width))
        model, loss = train_variant(config, data, steps, seed)
        points.append(dict(width=int(width), params=non_embedding_parameters(model),
                           total=sum(p.numel() for p in model.parameters()), loss=loss))
    return points
