"""Attention from scratch: queries, keys, values, a scaled dot product and a softmax.

The chapter *Transformers and language models* reads this module (section *Attention
from scratch*). It implements the attention of Vaswani et al. (2017),

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V,

where ``M`` is 0 where a query may look and ``-inf`` where it may not (the causal mask
hides the future), and multi-head attention, which runs ``h`` such attentions side by side
on ``h`` slices of the model's width. The tests check :func:`attend` against PyTorch's
``torch.nn.functional.scaled_dot_product_attention``.
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


class MultiHeadAttention(nn.Module):
    """``h`` attention heads over one sequence, each of width ``d_model / h``.

    One linear map makes queries, keys and values for all heads at once; the heads' outputs
    are concatenated and mixed by an output projection. The attention weights of the last
    forward pass run without gradients (``torch.no_grad()``: a pass made to draw them) are
    kept in ``self.weights`` (shape ``(B, h, T, T)``); training passes keep nothing, so a
    training step does not hold a ``(B, h, T, T)`` copy per block.
    """

    def __init__(self, d_model: int, n_head: int, causal: bool = True):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_head ({n_head})")
        self.n_head, self.causal = n_head, causal
        self.qkv = nn.Linear(d_model, 3 * d_model)   # W_Q, W_K, W_V for all heads, stacked
        self.proj = nn.Linear(d_model, d_model)      # W_O
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape                                                   # (B, T, C)
        q, k, v = self.qkv(x).split(C, dim=2)                               # 3 x (B, T, C)
        # (B, T, C) -> (B, h, T, C/h): each head sees its own slice of the width
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        out, weights = attend(q, k, v, causal=self.causal)                  # (B, h, T, C/h)
        if not torch.is_grad_enabled():
            self.weights = weights.detach()                                 # (B, h, T, T)
        out = out.transpose(1, 2).reshape(B, T, C)                          # heads side by side
        return self.proj(out)                                               # (B, T, C)
