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
  (:func:`randomized_copies`, :func:`rank_correlation`, :func:`sanity_check`);
* for a small GPT (:mod:`genmech.gpt`): gradient x input on the token embeddings
  (:func:`token_attribution`), to set beside its attention maps (attention is not
  explanation, Jain & Wallace, 2019); the hidden state after each block
  (:func:`residual_stream`), read by a linear probe (:func:`linear_probe`; Alain & Bengio,
  2017) and by the logit lens (:func:`logit_lens`; nostalgebraist, 2020).
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
    """The baseline as a tensor of ``x``'s shape: ``None`` is the blank image (all 0); one image of
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


# --------------------------------------------------------------------------- a language model
# The functions below read a GPT of genmech.gpt (token embedding ``tok_emb``, blocks
# ``blocks``, final layer norm ``ln_f`` and ``head``) through forward hooks, so they run
# the model's own forward pass unchanged.
def _check_tokens(idx):
    if not torch.is_tensor(idx) or idx.ndim != 2 or idx.dtype not in (torch.int64, torch.int32):
        raise ValueError("token ids must be an integer tensor of shape (batch, length)")


def token_attribution(model: nn.Module, idx: torch.Tensor, position: int, target) -> torch.Tensor:
    """Gradient x input on the token embeddings: for the logit of ``target`` (one token per
    sequence) at ``position``, ``|sum_k e_tk * d logit / d e_tk|`` for each earlier position
    ``t``: (B, T), zero after ``position`` (a causal model cannot look there)."""
    _check_tokens(idx)
    if not 0 <= position < idx.shape[1]:
        raise ValueError(f"position must be between 0 and {idx.shape[1] - 1}, got {position}")
    target = torch.as_tensor(target).expand(len(idx))
    captured = []
    hook = model.tok_emb.register_forward_hook(lambda m, i, out: captured.append(out))
    try:
        with torch.enable_grad():
            logits = model(idx)[0]                                          # (B, T, V)
            score = logits[torch.arange(len(idx)), position, target].sum()
            (grad,) = torch.autograd.grad(score, captured[0])
    finally:
        hook.remove()
    return (grad * captured[0]).sum(-1).abs().detach()                      # (B, T)


@torch.no_grad()
def residual_stream(model: nn.Module, idx: torch.Tensor) -> list[torch.Tensor]:
    """The hidden states (B, T, C) after the embeddings and after each block, in order."""
    _check_tokens(idx)
    states = []
    hooks = [model.blocks[0].register_forward_pre_hook(lambda m, args: states.append(args[0]))]
    hooks += [b.register_forward_hook(lambda m, i, out: states.append(out)) for b in model.blocks]
    try:
        model(idx)
    finally:
        for h in hooks:
            h.remove()
    return states


@torch.no_grad()
def logit_lens(model: nn.Module, idx: torch.Tensor) -> list[torch.Tensor]:
    """nostalgebraist's logit lens: the model's own read-out, final layer norm then ``head``,
    applied to each hidden state of :func:`residual_stream`: what the model would predict
    if it stopped there. One (B, T, V) tensor per state."""
    return [model.head(model.ln_f(h)) for h in residual_stream(model, idx)]


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, steps: int = 300, lr: float = 0.05, seed: int = 0) -> float:
    """Fit a linear classifier (multinomial logistic regression, Adam) from features to
    labels and return its test accuracy: how much of the label a linear read-out finds in
    the features (Alain & Bengio, 2017)."""
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError("features must be (n, d) tensors with the same d for train and test")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError("one label per feature row is needed")
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    classes = int(max(train_y.max(), test_y.max())) + 1
    gen = torch.Generator().manual_seed(seed)
    probe = nn.Linear(train_x.shape[1], classes)
    with torch.no_grad():
        probe.weight.copy_(torch.randn(probe.weight.shape, generator=gen) * 0.01)
        probe.bias.zero_()
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    features = ((train_x - mean) / std).detach()
    with torch.enable_grad():
        for _ in range(steps):
            loss = nn.functional.cross_entropy(probe(features), train_y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float((probe((test_x - mean) / std).argmax(1) == test_y).float().mean())
