"""A small GPT, readable in one file.

The chapter *Transformers and language models* reads this module. The model is the
decoder-only transformer of Radford et al. (2018, 2019), built from the blocks of Vaswani
et al. (2017), written in the style of Karpathy's nanoGPT:

* :class:`GPTConfig`: every size, with its default;
* :class:`FeedForward` and :class:`Block`: ``x + attn(ln(x))`` then ``x + mlp(ln(x))`` —
  residual connections (He et al., 2016) around pre-layer-normalised (Ba et al., 2016)
  attention (:class:`genmech.attention.MultiHeadAttention`) and a two-layer feed-forward
  network (nanoGPT's ``MLP``);
* :class:`GPT`: token and position embeddings, ``n_layer`` blocks, a final layer norm and a
  linear map to next-token logits;
* the options of section *Inside a modern transformer*: ``GPTConfig.position`` (learned,
  sinusoidal — :func:`sinusoidal_positions`, Vaswani et al., 2017 —, rotary — Su et al.,
  2021/2024 — or none), ``GPTConfig.tie_weights`` (the output layer reuses the token
  embedding, Press & Wolf, 2017), and a key-value cache for generation
  (:meth:`GPT.new_cache`, :func:`generate_cached`);
* :func:`reverse_batch` and :func:`reverse_accuracy`: a task (reversing digits) small
  enough to watch attention learn it; :func:`prepare_corpus`: the book's corpus
  (:func:`genmech.lm.load_corpus`) as token tensors.

The demos that train it, :class:`~genmech.gpt_demos.ReverseDemo` and
:class:`~genmech.gpt_demos.GPTDemo`, are in :mod:`genmech.gpt_demos`. Sampling
(temperature, top-k, top-p) lives in :mod:`genmech.sampling`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .attention import KVCache, MultiHeadAttention
from .lm import Vocabulary, load_corpus, split_corpus
from .sampling import next_token_probs

# How a GPT knows where a token sits (section *Inside a modern transformer*).
POSITIONS = ("learned", "sinusoidal", "rotary", "none")


@dataclass
class GPTConfig:
    vocab_size: int = 96       # tokens the model reads and predicts (characters here)
    block_size: int = 32       # the longest context, in tokens
    n_layer: int = 2           # transformer blocks
    n_head: int = 4            # attention heads per block
    n_embd: int = 64           # the model's width: every token is a vector of this size
    positional: bool = True    # add position information (False: the model is order-blind)
    position: str = "learned"  # how: one of POSITIONS (used when positional is True)
    tie_weights: bool = False  # the output layer reuses the token embedding matrix

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")
        if self.position == "sinusoidal" and self.n_embd % 2:
            raise ValueError(f"sinusoidal positions pair sines with cosines: n_embd must be even, got {self.n_embd}")
        if self.position == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"rotary positions turn pairs of coordinates: the head width "
                             f"n_embd / n_head must be even, got {self.n_embd // self.n_head}")


# The validation loss (nats per character) the default model must reach within 90 s on
# 2 CPU cores: below the MLP of the ladder. bench/bench_transformers.py measures it.
TARGET_LOSS = 1.75

# The next step up, for a GPU: nanoGPT's character-level Shakespeare model (about 10.7 M
# parameters), the same code with every size multiplied.
LARGER = dict(block_size=256, n_layer=6, n_head=6, n_embd=384)


def sinusoidal_positions(T: int, d: int) -> torch.Tensor:
    """Vaswani et al. (2017): ``P[t, 2i] = sin(t / 10000^(2i/d))``, ``P[t, 2i+1] = cos(...)``.

    A ``(T, d)`` table, fixed (not learned): each pair of columns is a clock turning at its
    own speed, from one turn every 2π tokens down to one every ``2π · 10000`` tokens.
    """
    if not isinstance(T, int) or not isinstance(d, int) or T < 1 or d < 2 or d % 2:
        raise ValueError(f"need a positive int T and an even int d >= 2, got T={T!r}, d={d!r}")
    t = torch.arange(T, dtype=torch.float32)[:, None]                     # (T, 1)
    freq = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)    # (d/2,)
    table = torch.zeros(T, d)
    table[:, 0::2] = torch.sin(t * freq)
    table[:, 1::2] = torch.cos(t * freq)
    return table


class FeedForward(nn.Module):
    """The position-wise feed-forward network: widen 4x, GELU, narrow back.

    nanoGPT calls it ``MLP``; here that name is the book's multilayer perceptron
    (:class:`genmech.nets.MLP`). The block keeps nanoGPT's attribute name, ``Block.mlp``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):                                   # (B, T, C)
        return self.proj(F.gelu(self.fc(x)))                # (B, T, 4C) -> (B, T, C)


class Block(nn.Module):
    """One transformer block: tokens talk (attention), then each thinks alone (feed-forward)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        rotary = config.positional and config.position == "rotary"
        self.attn = MultiHeadAttention(config.n_embd, config.n_head, causal=True, rotary=rotary)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = FeedForward(config)

    def forward(self, x, cache: KVCache | None = None):    # (B, T, C)
        x = x + self.attn(self.ln_1(x), cache)              # residual around attention
        x = x + self.mlp(self.ln_2(x))                      # residual around the MLP
        return x                                            # (B, T, C)


class GPT(nn.Module):
    """A decoder-only transformer language model: token ids in, next-token logits out."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.position = config.position if config.positional else "none"
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd) if self.position == "learned" else None
        if self.position == "sinusoidal":    # a fixed table, saved with the model but not trained
            self.register_buffer("pos_table", sinusoidal_positions(config.block_size, config.n_embd),
                                 persistent=False)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        if config.tie_weights:               # one (V, C) matrix reads tokens in and writes them out
            self.head.weight = self.tok_emb.weight

    @staticmethod
    def _init_weights(module):
        # GPT-2's initialisation: small normal weights, zero biases
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: list[KVCache] | None = None):
        """``idx`` ``(B, T)`` -> logits ``(B, T, V)``, and the cross-entropy if ``targets`` given.

        With a ``cache`` (from :meth:`new_cache`), ``idx`` holds the tokens that follow those
        already in the cache; their keys and values are added to it.
        """
        B, T = idx.shape
        start = 0 if cache is None else len(cache[0])                    # tokens seen before
        if start + T > self.config.block_size:
            what = f"sequence of length {T}" if cache is None else f"{start} cached + {T} new tokens"
            raise ValueError(f"{what} is longer than block_size={self.config.block_size}")
        if cache is not None and len(cache) != len(self.blocks):
            raise ValueError(f"the cache has {len(cache)} layers, the model {len(self.blocks)}: use model.new_cache()")
        x = self.tok_emb(idx)                                            # (B, T, C)
        positions = torch.arange(start, start + T, device=idx.device)
        if self.position == "learned":
            x = x + self.pos_emb(positions)                              # + (T, C)
        elif self.position == "sinusoidal":
            x = x + self.pos_table[positions]                            # + (T, C)
        for i, block in enumerate(self.blocks):
            # without a cache, call block(x): a reader's Block subclass with forward(self, x)
            # (transformers/05's exercise) keeps working
            x = block(x) if cache is None else block(x, cache[i])      # (B, T, C)
        logits = self.head(self.ln_f(x))                                 # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   ignore_index=-1)
        return logits, loss

    def new_cache(self) -> list[KVCache]:
        """An empty key-value cache, one :class:`~genmech.attention.KVCache` per block."""
        return [KVCache() for _ in self.blocks]

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


@torch.no_grad()
def generate_cached(model: GPT, ids: torch.Tensor, n: int, temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None, seed: int = 0) -> torch.Tensor:
    """:func:`genmech.sampling.generate` with a key-value cache: the prompt is read once, then
    each step feeds only the newest token. Same arguments, same random draws, same tokens.

    The whole text (prompt and ``n`` new tokens) must fit in the model's ``block_size``: the
    cache keeps every position, it does not slide.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if ids.ndim != 1 or len(ids) < 1:
        raise ValueError(f"ids must be a non-empty 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if len(ids) + n > model.config.block_size:
        raise ValueError(f"prompt ({len(ids)}) + n ({n}) tokens exceed block_size={model.config.block_size}: "
                         f"the cache does not slide")
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    cache = model.new_cache()
    new = ids[None].to(device)                                           # first the whole prompt
    ids = ids.clone()
    for _ in range(n):
        logits = model(new, cache=cache)[0][0, -1].float().cpu()         # (V,)
        probs = next_token_probs(logits, temperature, top_k, top_p)
        nxt = torch.multinomial(probs, 1, generator=gen)
        ids = torch.cat([ids, nxt])
        new = nxt[None].to(device)                                       # then one token a step
    return ids


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


# --------------------------------------------------------------------------- the corpus
def prepare_corpus():
    """The book's corpus, its character vocabulary and the three splits as token tensors."""
    text = load_corpus()
    vocab = Vocabulary(text)
    splits = split_corpus(text)
    return vocab, {name: vocab.encode(getattr(splits, name)) for name in ("train", "valid", "test")}


