"""Sampling from a language model: greedy, temperature, top-k and top-p (nucleus).

The chapter *Transformers and language models* reads this module (section *Sampling*).
A model gives logits ``z`` over the vocabulary for the next token. We reshape them, then
draw one token:

* **temperature** ``T``: ``p_i ∝ exp(z_i / T)``; ``T -> 0`` is greedy (always the argmax),
  ``T = 1`` the model's own distribution, ``T > 1`` flatter;
* **top-k**: keep the ``k`` most probable tokens, renormalise;
* **top-p** (nucleus sampling, Holtzman et al., 2020): keep the smallest set of most
  probable tokens whose probabilities add up to at least ``p``, renormalise.

:func:`generate` samples text; :func:`distinct_n` and :func:`invented_rate` measure it.
:class:`~genmech.sampling_demos.GenerationExplorer`, in :mod:`genmech.sampling_demos`, puts
the three knobs on sliders beside a bar chart of the next-token distribution.
"""
from __future__ import annotations

import numpy as np
import torch


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



