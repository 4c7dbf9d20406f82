"""Attributions: which input pixels a classifier's score depends on (torch only).

For a model ``f`` with class scores ``f_c(x)`` (logits) and an input ``x`` of ``d`` pixels:

* **saliency** (Simonyan et al., 2014): ``|d f_c / d x_i|``, how fast the score changes
  with each pixel (:func:`saliency`);
* **gradient x input** (Shrikumar et al., 2017): ``x_i * d f_c / d x_i``, the first-order
  share of each pixel in ``f_c(x) - f_c(0)`` (:func:`gradient_times_input`);
* **integrated gradients** (Sundararajan et al., 2017): with a baseline ``x'``,
  ``IG_i = (x_i - x'_i) * integral_0^1 d f_c / d x_i (x' + a (x - x')) da``, estimated by
  the midpoint rule with ``m`` points (:func:`integrated_gradients`). By the fundamental
  theorem of calculus along the straight path, the attributions add up to
  ``f_c(x) - f_c(x')`` (*completeness*; :func:`completeness_gap` measures how nearly);
* the **model-randomization sanity check** (Adebayo et al., 2018): replace the weights layer
  by layer, from the output down, with random ones; an explanation that depends on what the
  model learned must change, measured by the rank correlation with the original
  (:func:`randomized_copies`, :func:`rank_correlation`, :func:`sanity_check`).
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

METHODS = ("saliency", "gradient x input", "integrated gradients")


def _check_inputs(x, target):
    if not torch.is_tensor(x) or x.ndim != 2:
        raise ValueError(f"inputs must be a tensor of shape (n, pixels), got "
                         f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")
    target = torch.as_tensor(target)
    if target.ndim == 0:
        target = target.expand(len(x))
    if target.shape != x.shape[:1]:
        raise ValueError(f"target must be one class or one class per input ({len(x)}), "
                         f"got shape {tuple(target.shape)}")
    return target.long()


def score_gradient(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """``d f_c / d x`` for each input and its target class ``c``: (n, d) -> (n, d)."""
    target = _check_inputs(x, target)
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        scores = model(x).gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(scores, x)
    return grad


def saliency(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """``|d f_c / d x_i|`` (Simonyan et al., 2014)."""
    return score_gradient(model, x, target).abs()


def gradient_times_input(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """``x_i * d f_c / d x_i`` (Shrikumar et al., 2017)."""
    return x.detach() * score_gradient(model, x, target)


def check_baseline(baseline, x: torch.Tensor) -> torch.Tensor:
    """The baseline as a tensor of ``x``'s shape: ``None`` is the black image; one image of
    ``d`` pixels is used for every input. Any other shape is a readable ValueError."""
    if baseline is None:
        return torch.zeros_like(x)
    baseline = torch.as_tensor(baseline, dtype=x.dtype)
    if baseline.ndim == 1 and baseline.shape[0] == x.shape[1]:
        return baseline.expand_as(x)
    if baseline.shape != x.shape:
        raise ValueError(f"the baseline must have the inputs' shape {tuple(x.shape)} or be one "
                         f"image of {x.shape[1]} pixels, got shape {tuple(baseline.shape)}")
    return baseline


def path_points(steps: int) -> torch.Tensor:
    """The midpoint rule's ``steps`` points in (0, 1): ``a_k = (k + 1/2) / steps``."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps!r}")
    return (torch.arange(steps, dtype=torch.float64) + 0.5) / steps


def integrated_gradients(model: nn.Module, x: torch.Tensor, target, baseline=None,
                         steps: int = 50) -> torch.Tensor:
    """Integrated gradients along the straight path from ``baseline`` to ``x``:
    ``(x - x') * (1/m) sum_k grad f_c(x' + a_k (x - x'))``, ``a_k`` the midpoints."""
    target = _check_inputs(x, target)
    x = x.detach()
    baseline = check_baseline(baseline, x)
    alphas = path_points(steps).to(x.dtype)
    n, d = x.shape
    path = baseline[None] + alphas[:, None, None] * (x - baseline)[None]    # (m, n, d)
    grads = score_gradient(model, path.reshape(-1, d), target.repeat(steps)).reshape(steps, n, d)
    return (x - baseline) * grads.mean(0)


@torch.no_grad()
def completeness_gap(model: nn.Module, attributions: torch.Tensor, x: torch.Tensor, target,
                     baseline=None) -> torch.Tensor:
    """``|sum_i IG_i - (f_c(x) - f_c(x'))| / |f_c(x) - f_c(x')|`` per input: 0 when the
    attributions account exactly for the change of the score from baseline to input."""
    target = _check_inputs(x, target)
    baseline = check_baseline(baseline, x)
    score = lambda v: model(v).gather(1, target[:, None])[:, 0]   # noqa: E731
    change = score(x) - score(baseline)
    return (attributions.sum(1) - change).abs() / change.abs().clamp_min(1e-12)


ATTRIBUTIONS = {"saliency": saliency, "gradient x input": gradient_times_input,
                "integrated gradients": integrated_gradients}


def attribute(method: str, model: nn.Module, x, target, **options) -> torch.Tensor:
    """The attribution ``method`` (one of :data:`METHODS`) of ``model``'s score for ``target``."""
    if method not in ATTRIBUTIONS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return ATTRIBUTIONS[method](model, x, target, **options)


# --------------------------------------------------------------------------- sanity check
def linear_layers(model: nn.Module) -> list[str]:
    """Names of the layers with weights, input side first."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def randomized_copies(model: nn.Module, seed: int = 0) -> list[tuple[str, nn.Module]]:
    """Adebayo et al.'s *cascading* randomization: copies of ``model`` whose last 1, 2, ...
    weight layers are re-initialised at random (output layer first). Returns
    ``[(name of the last layer randomized, copy), ...]``."""
    names = linear_layers(model)
    out = []
    current = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    for name in reversed(names):
        layer = current.get_submodule(name)
        bound = 1 / math.sqrt(layer.in_features)       # PyTorch's default initialisation range
        with torch.no_grad():
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=gen) * 2 - 1) * bound)
            layer.bias.copy_((torch.rand(layer.bias.shape, generator=gen) * 2 - 1) * bound)
        out.append((name, copy.deepcopy(current)))
    return out


def _ranks(v: torch.Tensor) -> torch.Tensor:
    """Ranks of each row's entries, 0 for the smallest; tied entries share their mean rank
    (many pixels of a digit are exactly 0, and so are their gradient x input attributions)."""
    v = v.to(torch.float64)
    less = (v[:, None, :] < v[:, :, None]).sum(2)           # (n, d): entries below each one
    equal = (v[:, None, :] == v[:, :, None]).sum(2)         # including itself
    return less + (equal - 1) / 2


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation between the rows of ``a`` and ``b`` (n, d) -> (n,):
    the Pearson correlation of their ranks; 1 when the two order the pixels alike."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"two (n, d) arrays of the same shape are needed, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1))


def sanity_check(model: nn.Module, x: torch.Tensor, target, methods=METHODS,
                 seed: int = 0) -> dict[str, list[float]]:
    """For each method: the mean rank correlation (over the inputs) between the absolute
    attributions of the trained model and of each cascading randomization of it
    (:func:`randomized_copies`). Near 1: the explanation ignores what the model learned."""
    copies = randomized_copies(model, seed)
    out = {}
    for method in methods:
        original = attribute(method, model, x, target).abs()
        out[method] = [float(rank_correlation(original, attribute(method, m, x, target).abs()).mean())
                       for _, m in copies]
    return out
