"""An encoder–decoder transformer with cross-attention, on a translation task made in code.

The chapter *Applications*, section *Text*, reads this module. It implements the
original transformer's shape (Vaswani et al., 2017): an **encoder** reads the whole source
with attention that looks both ways; a **decoder** writes the target one token at a time
with causal self-attention, and **cross-attention** lets each target position look at the
encoder's outputs — the idea of Bahdanau, Cho & Bengio (2015). The task: numbers written
in digits (``"342"``) to English words (``"three hundred forty two"``).

* :func:`number_words`, :class:`TranslationData`: the task and its tokens;
* :class:`CrossAttention`, :class:`EncoderBlock`, :class:`DecoderBlock`, :class:`Seq2Seq`:
  the model, built on :func:`genmech.attention.attend` and reusing the feed-forward block
  of :mod:`genmech.gpt`;
* :func:`train_seq2seq`, :func:`translate` (greedy decoding with a stop token and a length
  limit) and :func:`exact_match`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention, attend
from .gpt import FeedForward, GPTConfig

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
PAD, BOS, EOS = "<pad>", "<s>", "</s>"


def number_words(n: int) -> str:
    """0 <= n < 1,000,000 in English words, without "and": 342 -> "three hundred forty two"."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 1_000_000:
        raise ValueError(f"n must be an int from 0 to 999,999, got {n!r}")
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))


class TranslationData:
    """Numbers below ``limit``, split at random into train / test; source tokens are the
    characters 0-9, target tokens the words, with start, end and padding tokens."""

    def __init__(self, limit: int = 100_000, n_test: int = 1000, seed: int = 0):
        words = sorted({w for n in list(range(100)) + [100, 1000] for w in number_words(n).split()})
        self.src_vocab = [PAD] + list("0123456789")
        self.tgt_vocab = [PAD, BOS, EOS] + words
        self.src_index = {t: i for i, t in enumerate(self.src_vocab)}
        self.tgt_index = {t: i for i, t in enumerate(self.tgt_vocab)}
        self.limit = limit
        gen = torch.Generator().manual_seed(seed)
        self.test_numbers = torch.randperm(limit, generator=gen)[:n_test]
        self.is_test = torch.zeros(limit, dtype=torch.bool)
        self.is_test[self.test_numbers] = True
        self.src_len = len(str(limit - 1))
        self.tgt_len = max(len(number_words(n).split()) for n in range(limit)) + 2

    def encode_source(self, numbers) -> torch.Tensor:
        rows = [[self.src_index[c] for c in str(int(n))] for n in numbers]
        return torch.tensor([r + [0] * (self.src_len - len(r)) for r in rows])

    def encode_target(self, numbers) -> torch.Tensor:
        rows = [[1] + [self.tgt_index[w] for w in number_words(int(n)).split()] + [2] for n in numbers]
        return torch.tensor([r + [0] * (self.tgt_len - len(r)) for r in rows])

    def decode_target(self, ids) -> str:
        words = []
        for i in ids:
            t = self.tgt_vocab[int(i)]
            if t == EOS:
                break
            if t not in (PAD, BOS):
                words.append(t)
        return " ".join(words)

    def train_batch(self, size: int, gen: torch.Generator):
        n = torch.randint(0, self.limit, (4 * size,), generator=gen)
        n = n[~self.is_test[n]][:size]
        return self.encode_source(n), self.encode_target(n)


class CrossAttention(nn.Module):
    """Queries from the decoder, keys and values from the encoder's outputs, ``h`` heads.
    The weights of the last pass run without gradients are kept in ``self.weights``
    (``(B, h, T_target, T_source)``)."""

    def __init__(self, d_model: int, n_head: int):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_head ({n_head})")
        self.n_head = n_head
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.weights = None

    def forward(self, x, memory, memory_mask=None):         # (B, T, C), (B, S, C), (B, S)
        B, T, C = x.shape
        S = memory.shape[1]
        h = self.n_head
        q = self.q(x).view(B, T, h, C // h).transpose(1, 2)                  # (B, h, T, C/h)
        k, v = (t.view(B, S, h, C // h).transpose(1, 2) for t in self.kv(memory).split(C, dim=2))
        mask = None if memory_mask is None else memory_mask[:, None, None, :]  # (B, 1, 1, S)
        out, weights = attend(q, k, v, mask=mask)                              # (B, h, T, C/h)
        if not torch.is_grad_enabled():
            self.weights = weights.detach()
        return self.proj(out.transpose(1, 2).reshape(B, T, C))


class EncoderBlock(nn.Module):
    """Self-attention that looks both ways, then the feed-forward network (pre-norm, residual)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn = MultiHeadAttention(cfg.n_embd, cfg.n_head, causal=False)
        self.mlp = FeedForward(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder, feed-forward (pre-norm, residual)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1, self.ln_2, self.ln_3 = (nn.LayerNorm(cfg.n_embd) for _ in range(3))
        self.attn = MultiHeadAttention(cfg.n_embd, cfg.n_head, causal=True)
        self.cross = CrossAttention(cfg.n_embd, cfg.n_head)
        self.mlp = FeedForward(cfg)

    def forward(self, x, memory, memory_mask):
        x = x + self.attn(self.ln_1(x))
        x = x + self.cross(self.ln_2(x), memory, memory_mask)
        return x + self.mlp(self.ln_3(x))


@dataclass
class Seq2SeqConfig:
    n_embd: int = 64
    n_head: int = 4
    n_layer: int = 2      # encoder blocks, and as many decoder blocks


class Seq2Seq(nn.Module):
    """Encoder (source tokens -> vectors) and decoder (target so far + encoder vectors ->
    next-token logits)."""

    def __init__(self, data: TranslationData, cfg: Seq2SeqConfig | None = None):
        super().__init__()
        cfg = cfg or Seq2SeqConfig()
        g = GPTConfig(vocab_size=len(data.tgt_vocab), block_size=data.tgt_len, n_layer=cfg.n_layer,
                      n_head=cfg.n_head, n_embd=cfg.n_embd)
        self.src_emb = nn.Embedding(len(data.src_vocab), cfg.n_embd)
        self.src_pos = nn.Embedding(data.src_len, cfg.n_embd)
        self.tgt_emb = nn.Embedding(len(data.tgt_vocab), cfg.n_embd)
        self.tgt_pos = nn.Embedding(data.tgt_len, cfg.n_embd)
        self.encoder = nn.ModuleList(EncoderBlock(g) for _ in range(cfg.n_layer))
        self.decoder = nn.ModuleList(DecoderBlock(g) for _ in range(cfg.n_layer))
        self.ln_e, self.ln_d = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, len(data.tgt_vocab))

    def encode(self, src):                                   # (B, S) -> (B, S, C), mask (B, S)
        x = self.src_emb(src) + self.src_pos(torch.arange(src.shape[1]))
        for block in self.encoder:
            x = block(x)
        return self.ln_e(x), src != 0

    def decode(self, tgt, memory, mask):                     # (B, T) -> (B, T, V)
        x = self.tgt_emb(tgt) + self.tgt_pos(torch.arange(tgt.shape[1]))
        for block in self.decoder:
            x = block(x, memory, mask)
        return self.head(self.ln_d(x))

    def forward(self, src, tgt):
        memory, mask = self.encode(src)
        return self.decode(tgt, memory, mask)


def train_seq2seq(data: TranslationData, steps: int = 1500, batch: int = 64, lr: float = 3e-3,
                  seed: int = 0, cfg: Seq2SeqConfig | None = None):
    """Teacher forcing: the decoder reads the true target shifted by one and predicts the next
    word (padding ignored); returns ``(model, losses)``."""
    torch.manual_seed(seed)
    model = Seq2Seq(data, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        src, tgt = data.train_batch(batch, gen)
        logits = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


@torch.no_grad()
def translate(model: Seq2Seq, data: TranslationData, numbers, max_words: int | None = None) -> list[str]:
    """Greedy decoding: start from ``<s>``, append the most likely word, stop at ``</s>``
    (the stop token) or after ``max_words`` words (the length limit)."""
    numbers = [int(n) for n in numbers]
    if any(not 0 <= n < data.limit for n in numbers):
        raise ValueError(f"numbers must be from 0 to {data.limit - 1}")
    limit = data.tgt_len - 1 if max_words is None else int(max_words)
    if limit < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words!r}")
    memory, mask = model.encode(data.encode_source(numbers))
    out = torch.ones(len(numbers), 1, dtype=torch.long)            # <s>
    for _ in range(min(limit, data.tgt_len - 1)):
        nxt = model.decode(out, memory, mask)[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, nxt], 1)
        if (out == 2).any(1).all():
            break
    return [data.decode_target(row[1:]) for row in out]


def exact_match(model: Seq2Seq, data: TranslationData, numbers) -> float:
    """The share of numbers translated word for word right."""
    got = translate(model, data, numbers)
    return sum(g == number_words(int(n)) for g, n in zip(got, numbers)) / len(got)
