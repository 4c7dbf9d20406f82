"""Attention from scratch: queries, keys, values, a scaled dot product and a softmax.

The chapter *Transformers and language models* reads this module (section *Attention
from scratch*). It implements the attention of Vaswani et al. (2017),

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V,

where ``M`` is 0 where a query may look and ``-inf`` where it may not (the causal mask
hides the future), and multi-head attention, which runs ``h`` such attentions side by side
on ``h`` slices of the model's width. The tests check :func:`attend` against PyTorch's
``torch.nn.functional.scaled_dot_product_attention``.

Section *Inside a modern transformer* adds two options to :class:`MultiHeadAttention`:

* rotary position embeddings (Su et al., 2021/2024): :func:`rotary` turns each pair of
  coordinates of a query or key at position ``m`` by the angle ``m θ_i``, so that
  ``q_m · k_n`` depends on the offset ``m - n`` only;
* a key-value cache (:class:`KVCache`): while generating, the keys and values of the tokens
  already seen are kept, so that each new token computes only its own.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def causal_mask(T: int, device=None) -> torch.Tensor:
    """A ``(T, T)`` boolean matrix, True where query ``t`` may look at key ``s`` (``s <= t``)."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    return torch.tril(torch.ones(T, T, dtype=torch.bool, device=device))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
           mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention; returns ``(output, weights)``.

    ``q`` has shape ``(..., T, d_k)``, ``k`` ``(..., S, d_k)`` and ``v`` ``(..., S, d_v)``;
    the output has shape ``(..., T, d_v)`` and ``weights`` ``(..., T, S)``, each row a
    probability distribution over the keys. ``mask`` (boolean, True = may look) and
    ``causal`` (query ``t`` sees keys ``0..t``) hide keys by setting their scores to -inf.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys need the same width, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values need the same length, got {k.shape[-2]} and {v.shape[-2]}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])     # (..., T, S)
    if causal:
        T, S = scores.shape[-2:]
        allowed = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
        scores = scores.masked_fill(~allowed, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)                        # (..., T, S)
    return weights @ v, weights                                    # (..., T, d_v)


def rotary(x: torch.Tensor, start: int = 0, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (RoFormer): rotate each pair ``(x_2i, x_2i+1)`` of the
    vector at position ``m = start + t`` by the angle ``m θ_i``, ``θ_i = base^(-2i/d)``.

    ``x`` has shape ``(..., T, d)`` with ``d`` even; the result has the same shape. A rotation
    keeps lengths, and ``rotary(q, m) · rotary(k, n)`` depends on ``m - n`` only.
    """
    T, d = x.shape[-2:]
    if d % 2:
        raise ValueError(f"rotary embeddings rotate pairs of coordinates: the width must be even, got {d}")
    if not isinstance(start, int) or start < 0:
        raise ValueError(f"start must be a non-negative int, got {start!r}")
    theta = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)        # (d/2,)
    angle = torch.arange(start, start + T, device=x.device, dtype=torch.float32)[:, None] * theta  # (T, d/2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]                                 # (..., T, d/2) each
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class KVCache:
    """The keys and values of the tokens one attention layer has already seen.

    Generation feeds one new token at a time; its query needs the keys and values of every
    earlier token, which do not change. The cache keeps them, ``(B, h, S, d_k)`` each, and
    :meth:`append` adds the new token's.
    """

    def __init__(self):
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[-2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the keys and values of new positions; return all of them."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)
        return self.k, self.v


class MultiHeadAttention(nn.Module):
    """``h`` attention heads over one sequence, each of width ``d_model / h``.

    One linear map makes queries, keys and values for all heads at once; the heads' outputs
    are concatenated and mixed by an output projection. The attention weights of the last
    forward pass run without gradients (``torch.no_grad()``: a pass made to draw them) are
    kept in ``self.weights`` (shape ``(B, h, T, T)``); training passes keep nothing, so a
    training step does not hold a ``(B, h, T, T)`` copy per block.

    ``rotary=True`` rotates queries and keys by their positions (:func:`rotary`). A
    :class:`KVCache` passed to :meth:`forward` makes ``x`` the *new* positions only: their
    keys and values join the cache, and their queries attend to everything in it.
    """

    def __init__(self, d_model: int, n_head: int, causal: bool = True, rotary: bool = False):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_head ({n_head})")
        if rotary and (d_model // n_head) % 2:
            raise ValueError(f"rotary embeddings need an even head width, got {d_model // n_head}")
        self.n_head, self.causal, self.rotary = n_head, causal, rotary
        self.qkv = nn.Linear(d_model, 3 * d_model)   # W_Q, W_K, W_V for all heads, stacked
        self.proj = nn.Linear(d_model, d_model)      # W_O
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.shape                                                   # (B, T, C)
        start = 0 if cache is None else len(cache)                          # positions already seen
        q, k, v = self.qkv(x).split(C, dim=2)                               # 3 x (B, T, C)
        # (B, T, C) -> (B, h, T, C/h): each head sees its own slice of the width
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.rotary:
            q, k = rotary(q, start), rotary(k, start)                       # turn by position
        if cache is not None:
            k, v = cache.append(k, v)                                       # (B, h, start + T, C/h)
        out, weights = attend(q, k, v, causal=self.causal)                  # (B, h, T, C/h)
        if not torch.is_grad_enabled():
            self.weights = weights.detach()                                 # (B, h, T, T)
        out = out.transpose(1, 2).reshape(B, T, C)                          # heads side by side
        return self.proj(out)                                               # (B, T, C)
