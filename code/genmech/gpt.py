"""A small GPT, readable in one file, and the demos that train it.

The chapter *Transformers and language models* reads this module. The model is the
decoder-only transformer of Radford et al. (2018, 2019), built from the blocks of Vaswani
et al. (2017), written in the style of Karpathy's nanoGPT:

* :class:`GPTConfig`: every size, with its default;
* :class:`MLP` and :class:`Block`: ``x + attn(ln(x))`` then ``x + mlp(ln(x))`` — residual
  connections (He et al., 2016) around pre-layer-normalised (Ba et al., 2016) attention
  (:class:`genmech.attention.MultiHeadAttention`) and a two-layer MLP;
* :class:`GPT`: token and position embeddings, ``n_layer`` blocks, a final layer norm and a
  linear map to next-token logits;
* :class:`ReverseDemo`: a GPT learns to reverse a sequence of digits, and its attention
  map shows where it looks;
* :class:`GPTDemo`: a GPT trained on the book's corpus (:func:`genmech.lm.load_corpus`),
  with its loss, a sample from a fixed prompt and an attention map drawn as it learns.

Sampling (temperature, top-k, top-p) lives in :mod:`genmech.sampling`.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn
from torch.nn import functional as F

from . import device as default_device
from .attention import MultiHeadAttention
from .lm import Vocabulary, load_corpus, random_batch, split_corpus
from .live import Demo, Slider
from .plotting import COLORS


@dataclass
class GPTConfig:
    vocab_size: int = 96       # tokens the model reads and predicts (characters here)
    block_size: int = 32       # the longest context, in tokens
    n_layer: int = 2           # transformer blocks
    n_head: int = 4            # attention heads per block
    n_embd: int = 64           # the model's width: every token is a vector of this size
    positional: bool = True    # add learned position embeddings (False: the model is order-blind)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")


# The validation loss (nats per character) the default model must reach within 90 s on
# 2 CPU cores: below the MLP of the ladder. bench/bench_transformers.py measures it.
TARGET_LOSS = 1.75

# The next step up, for a GPU: nanoGPT's character-level Shakespeare model (about 10.7 M
# parameters), the same code with every size multiplied.
LARGER = dict(block_size=256, n_layer=6, n_head=6, n_embd=384)


class MLP(nn.Module):
    """The position-wise feed-forward network: widen 4x, GELU, narrow back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):                                   # (B, T, C)
        return self.proj(F.gelu(self.fc(x)))                # (B, T, 4C) -> (B, T, C)


class Block(nn.Module):
    """One transformer block: tokens talk (attention), then each thinks alone (MLP)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = MultiHeadAttention(config.n_embd, config.n_head, causal=True)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x):                                   # (B, T, C)
        x = x + self.attn(self.ln_1(x))                     # residual around attention
        x = x + self.mlp(self.ln_2(x))                      # residual around the MLP
        return x                                            # (B, T, C)


class GPT(nn.Module):
    """A decoder-only transformer language model: token ids in, next-token logits out."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd) if config.positional else None
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        # GPT-2's initialisation: small normal weights, zero biases
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """``idx`` ``(B, T)`` -> logits ``(B, T, V)``, and the cross-entropy if ``targets`` given."""
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence of length {T} is longer than block_size={self.config.block_size}")
        x = self.tok_emb(idx)                                            # (B, T, C)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(T, device=idx.device))     # + (T, C)
        for block in self.blocks:
            x = block(x)                                                 # (B, T, C)
        logits = self.head(self.ln_f(x))                                 # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   ignore_index=-1)
        return logits, loss

    def attention_maps(self) -> list[torch.Tensor]:
        """The attention weights of the last forward pass run under ``torch.no_grad()``, one
        ``(B, h, T, T)`` per block (training passes do not keep them)."""
        return [b.attn.weights for b in self.blocks]

    @torch.no_grad()
    def loss_on(self, data: torch.Tensor) -> float:
        """Mean cross-entropy (nats per token) over ``data`` cut into windows of ``block_size``.

        Windows overlap by half; only the second half of each window is scored, so every
        scored token sees at least ``block_size / 2`` tokens of context.
        """
        T, half = self.config.block_size, self.config.block_size // 2
        device = next(self.parameters()).device
        starts = list(range(0, max(1, len(data) - T), half))
        total, count = 0.0, 0
        for i in range(0, len(starts), 256):
            s = torch.tensor(starts[i:i + 256])
            x = data[s[:, None] + torch.arange(T)].to(device)            # (B, T)
            y = data[s[:, None] + torch.arange(T) + 1].to(device)        # (B, T)
            logits, _ = self(x)
            nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")   # (B, T)
            first = (s == 0).to(device)                                  # score all of window 0
            keep = torch.ones_like(nll, dtype=torch.bool)
            keep[~first, :half] = False
            total += nll[keep].sum().item()
            count += keep.sum().item()
        return total / count


# --------------------------------------------------------------------------- reversing digits
def reverse_batch(batch_size: int, length: int = 8, generator=None):
    """Sequences ``d1 .. dn | dn .. d1`` of random digits, as ``x, y`` for next-token training.

    Token 10 is the separator ``|``. Targets are -1 (ignored) over the first half, where the
    digits are random and cannot be predicted; the model is scored on the reversal only.
    """
    digits = torch.randint(0, 10, (batch_size, length), generator=generator)
    sep = torch.full((batch_size, 1), 10)
    seq = torch.cat([digits, sep, digits.flip(1)], dim=1)               # (B, 2n + 1)
    x, y = seq[:, :-1], seq[:, 1:].clone()                              # (B, 2n)
    y[:, :length - 1] = -1
    return x, y


def reverse_accuracy(model: GPT, length: int = 8, n: int = 500, seed: int = 123) -> float:
    """The fraction of reversed digits the model predicts right (greedy, teacher-forced)."""
    x, y = reverse_batch(n, length, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        pred = model(x)[0].argmax(-1)
    scored = y[:, length:]                                              # the reversed digits
    return (pred[:, length:] == scored).float().mean().item()


class ReverseDemo(Demo):
    """A one-block GPT learns to reverse eight digits; its attention map shows how."""

    title = "Learning to reverse a sequence: where does each output position look?"
    params = (Slider("lr", 1e-4, 3e-1, 3e-3, log=True, label="learning rate"),)
    curves = ("loss",)
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
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]

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
def prepare_corpus():
    """The book's corpus, its character vocabulary and the three splits as token tensors."""
    text = load_corpus()
    vocab = Vocabulary(text)
    splits = split_corpus(text)
    return vocab, {name: vocab.encode(getattr(splits, name)) for name in ("train", "valid", "test")}


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
    prompt = "The dataset "
    probe = "The number of clusters to form."
    sample_every = 20        # regenerate the sample at most every this many steps
    sample_length = 120

    def __init__(self, seed: int = 0, config: GPTConfig | None = None, batch_size: int = 32, **hp):
        self.base_config = config
        self.batch_size = batch_size
        super().__init__(seed=seed, **hp)

    def build(self):
        from .sampling import generate

        self._generate = generate
        self.vocab, self.data = prepare_corpus()
        base = self.base_config or GPTConfig()
        self.config = GPTConfig(**{**base.__dict__, "vocab_size": len(self.vocab)})
        self.device = default_device()
        self.model = GPT(self.config).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.hp["lr"], weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(self.seed)
        self.valid = float("nan")
        self._sample = None
        self.samples: dict[int, str] = {}     # step -> the sample drawn then, for a table

    def apply(self, changed):
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]

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
        return metrics

    @torch.no_grad()
    def validation_loss(self, tokens: int = 2048) -> float:
        """The loss on the first ``tokens`` characters of the validation split (fast, fixed)."""
        return self.model.loss_on(self.data["valid"][:tokens])

    def sample(self) -> str:
        """A sample from the fixed prompt, with a fixed random seed: only the model changes."""
        if self._sample is None or self.steps - self._sample[0] >= self.sample_every:
            ids = self._generate(self.model, self.vocab.encode(self.prompt), self.sample_length,
                                 temperature=0.8, seed=0)
            self._sample = (self.steps, self.vocab.decode(ids[len(self.prompt):]))
            self.samples[self.steps] = self._sample[1]
        return self._sample[1]

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
