"""A green-list watermark for a language model, and its z-test (Kirchenbauer et al., 2023).

The chapter *Challenges and limitations* reads this module (section *Authenticity*).

* :func:`green_table`: for each previous token, a secret key chooses a "green list" of
  ``gamma · V`` tokens of the vocabulary (the rest is red);
* :func:`generate`: sample text, adding ``delta`` to the logit of every green token
  before the softmax (the "soft" watermark of the paper; ``delta = 0`` is the plain model);
* :func:`green_count`, :func:`z_score` and :func:`detect`: count the green tokens of a text
  and test the null hypothesis "written without knowledge of the key", under which each
  scored token is green with probability ``gamma``:

      z = (|s|_G − gamma T) / sqrt(T gamma (1 − gamma));

* :func:`false_positive_bound`: how often an unwatermarked text passes a threshold ``z``,
  by Hoeffding's inequality, and :func:`perplexity`, the quality a watermark costs.

Repeated (previous token, token) pairs are scored once (``unique=True``, as Fernandez et
al., 2023, recommend): a repeated pair has the same colour every time, and counting it
twice would break the independence the test relies on.

torch only; works with any model that maps ``(B, T)`` token ids to ``(B, T, V)`` logits
as its first output and has ``config.block_size`` (:class:`genmech.gpt.GPT`).
"""
from __future__ import annotations

import math

import torch


def _check(gamma: float, delta: float | None = None) -> None:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 < gamma < 1:
        raise ValueError(f"gamma (the green share of the vocabulary) must be in (0, 1), got {gamma!r}")
    if delta is not None and (not isinstance(delta, (int, float)) or not math.isfinite(delta) or delta < 0):
        raise ValueError(f"delta (the watermark strength) must be a finite number >= 0, got {delta!r}")


def green_table(vocab_size: int, gamma: float = 0.5, key: int = 42) -> torch.Tensor:
    """``(V, V)`` booleans: ``table[prev, tok]`` is True when ``tok`` is green after ``prev``.

    Each row is a random permutation of the vocabulary seeded by ``(key, prev)``; its first
    ``round(gamma V)`` tokens are green. Without the key the lists look random.
    """
    _check(gamma)
    if not isinstance(vocab_size, int) or vocab_size < 2:
        raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
    k = max(1, min(vocab_size - 1, round(gamma * vocab_size)))
    table = torch.zeros(vocab_size, vocab_size, dtype=torch.bool)
    for prev in range(vocab_size):
        gen = torch.Generator().manual_seed(key * 1_000_003 + prev)
        table[prev, torch.randperm(vocab_size, generator=gen)[:k]] = True
    return table


@torch.no_grad()
def generate(model, prompt: torch.Tensor, n: int, *, table: torch.Tensor | None = None,
             delta: float = 0.0, batch: int = 1, temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Sample ``n`` tokens after the 1-D ``prompt``, ``batch`` texts at once; ``(B, len + n)``.

    At each step the logits of the tokens green after the previous token get ``+ delta``.
    """
    _check(0.5, delta)
    if delta and table is None:
        raise ValueError("a watermark (delta > 0) needs a green table")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    gen = torch.Generator().manual_seed(seed)
    ids = prompt.reshape(1, -1).repeat(batch, 1)                       # (B, T)
    block = model.config.block_size
    model.eval()
    for _ in range(n):
        logits = model(ids[:, -block:])[0][:, -1] / temperature        # (B, V)
        if delta:
            logits = logits + delta * table[ids[:, -1]].to(logits.dtype)
        nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)   # (B, 1)
        ids = torch.cat([ids, nxt], 1)
    return ids


def green_count(ids: torch.Tensor, table: torch.Tensor, unique: bool = True) -> tuple[int, int]:
    """``(green, scored)`` for one text of token ids: each (previous, token) pair is scored
    (once if ``unique``) and counted green when ``table[previous, token]``."""
    ids = torch.as_tensor(ids).reshape(-1)
    if len(ids) < 2:
        raise ValueError("a text needs at least two tokens to score")
    pairs = torch.stack([ids[:-1], ids[1:]], 1)                        # (T, 2)
    if unique:
        pairs = torch.unique(pairs, dim=0)
    green = table[pairs[:, 0], pairs[:, 1]]
    return int(green.sum()), len(pairs)


def z_score(green: int, scored: int, gamma: float) -> float:
    """``(green − gamma T) / sqrt(T gamma (1 − gamma))``: standard deviations above chance."""
    _check(gamma)
    if scored < 1:
        raise ValueError("nothing was scored")
    return (green - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))


def detect(ids, table: torch.Tensor, gamma: float, threshold: float = 4.0) -> tuple[float, bool]:
    """The z-score of a text and whether it exceeds ``threshold`` (watermarked)."""
    z = z_score(*green_count(ids, table), gamma)
    return z, z > threshold


def false_positive_bound(threshold: float, gamma: float) -> float:
    """P(z > threshold) for a text written without the key, at most ``exp(−2 threshold² gamma (1 − gamma))``.

    Hoeffding (1963): a sum S of T independent variables in [0, 1] (or drawn without
    replacement) satisfies P(S − E S ≥ t) ≤ exp(−2 t² / T). With t = threshold ·
    sqrt(T gamma (1 − gamma)) the bound no longer depends on T. The normal approximation,
    1 − Φ(threshold), is smaller; this one holds at every length.
    """
    _check(gamma)
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}")
    return math.exp(-2 * threshold ** 2 * gamma * (1 - gamma))


def normal_tail(threshold: float) -> float:
    """1 − Φ(threshold): the normal approximation to the false positive rate."""
    return 0.5 * math.erfc(threshold / math.sqrt(2))


@torch.no_grad()
def perplexity(model, ids: torch.Tensor, start: int) -> float:
    """exp(mean −log p(token | context)) under ``model`` (unwatermarked) over positions
    ``start`` onwards of the texts ``ids`` ``(B, L)``: what the watermark costs in fluency."""
    ids = torch.as_tensor(ids)
    if ids.ndim != 2 or not 1 <= start < ids.shape[1]:
        raise ValueError("ids must be (B, L) and start in [1, L)")
    block = model.config.block_size
    nll = []
    for t in range(start, ids.shape[1]):
        logits = model(ids[:, max(0, t - block):t])[0][:, -1]          # (B, V)
        nll.append(torch.nn.functional.cross_entropy(logits, ids[:, t], reduction="none"))
    return math.exp(torch.stack(nll).mean().item())
