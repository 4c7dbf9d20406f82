"""Adversarial examples, written from their formulas (torch only).

A classifier $f$ maps an image $x \\in [0, 1]^d$ to class scores; $L(x, y)$ is its
cross-entropy loss on the true label $y$. An *adversarial example* is a point $x'$ with
$\\|x' - x\\|_\\infty \\le \\varepsilon$ (no pixel moved by more than $\\varepsilon$) that $f$
misclassifies (Szegedy et al., 2014).

* **FGSM**, the fast gradient sign method (Goodfellow et al., 2015): one step to the corner
  of the $\\varepsilon$-ball that the loss's linear approximation says is worst,
  ``x' = clip(x + eps * sign(grad_x L(x, y)), 0, 1)`` (:func:`fgsm`).
* **PGD**, projected gradient descent (Madry et al., 2018): many smaller signed steps of
  size $\\alpha$, each followed by the projection back onto the ball and the pixel range,
  ``x_{t+1} = P(x_t + alpha * sign(grad_x L(x_t, y)))`` (:func:`pgd`, :func:`project`).
* **Adversarial training** (Goodfellow et al., 2015; Madry et al., 2018) fits the model to
  the attacked images instead of the clean ones (:func:`adversarial_training_step`).
* **Fooling images** (Nguyen et al., 2015): gradient ascent from noise on one class's
  log-probability finds images no human would call a digit that the model labels with high
  confidence (:func:`fooling_images`).
* **Attacks on a generative model** (Tabacof et al., 2016; Kos et al., 2018): a small
  change to an image moves its VAE code to another image's code, so the decoder draws the
  other digit (:func:`latent_attack`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def check_epsilon(eps) -> float:
    """``eps`` as a float in [0, 1] (pixels live in [0, 1]), or a readable ValueError."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) and not (
            torch.is_tensor(eps) and eps.numel() == 1):
        raise ValueError(f"epsilon must be a number between 0 and 1, got {eps!r}")
    eps = float(eps)
    if not (math.isfinite(eps) and 0.0 <= eps <= 1.0):
        raise ValueError(f"epsilon must be between 0 and 1 (pixels lie in [0, 1]), got {eps}")
    return eps


def _check_batch(x, y=None):
    if not torch.is_tensor(x) or x.ndim != 2:
        raise ValueError(f"images must be a tensor of shape (n, pixels), got "
                         f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")
    if y is not None and (not torch.is_tensor(y) or y.shape != x.shape[:1]):
        raise ValueError(f"labels must be a tensor of shape ({len(x)},), got "
                         f"{tuple(y.shape) if torch.is_tensor(y) else type(y).__name__}")


def loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``grad_x L(x, y)`` for each image of the batch: (n, d) -> (n, d).

    The loss is summed over the batch, so each row is the gradient of that image's own loss."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """The nearest point to ``x_adv`` inside the eps-ball around ``x`` and the pixel range:
    clip each pixel to [x - eps, x + eps], then to [0, 1] (both are boxes, so clipping
    coordinate by coordinate is the Euclidean projection onto their intersection)."""
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method: ``clip(x + eps * sign(grad_x L(x, y)), 0, 1)``."""
    eps = check_epsilon(eps)
    _check_batch(x, y)
    return project(x + eps * loss_gradient(model, x, y).sign(), x, eps).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 20,
        alpha: float | None = None, random_start: bool = False,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent on the loss (ascent, for the attacker), in the L-inf ball.

    ``steps`` signed steps of size ``alpha`` (default ``2.5 * eps / steps``: together the
    steps can travel 2.5 eps, more than across the ball), each projected back by :func:`project`.
    ``random_start`` begins at a uniform point of the ball instead of ``x``."""
    eps = check_epsilon(eps)
    _check_batch(x, y)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps!r}")
    alpha = 2.5 * eps / steps if alpha is None else float(alpha)
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"the step size alpha must be a non-negative number, got {alpha}")
    x = x.detach()
    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator) * 2 - 1
        x_adv = project(x + eps * noise, x, eps)
    for _ in range(steps):
        x_adv = project(x_adv + alpha * loss_gradient(model, x_adv, y).sign(), x, eps)
    return x_adv.detach()


ATTACKS = {"FGSM": fgsm, "PGD": pgd}


def attack(name: str, model: nn.Module, x, y, eps: float, **options) -> torch.Tensor:
    """The attack called ``name`` ("FGSM" or "PGD") at radius ``eps``."""
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {', '.join(ATTACKS)}; got {name!r}")
    return ATTACKS[name](model, x, y, eps, **options)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(predicted class, its probability)`` for each image: the model's label and confidence."""
    probs = torch.softmax(model(x), dim=1)
    conf, pred = probs.max(dim=1)
    return pred, conf


def accuracy_under_attack(model: nn.Module, x, y, eps: float, name: str = "PGD", **options) -> float:
    """The fraction of images still classified correctly after the attack at radius ``eps``
    (the *robust accuracy*; at ``eps = 0`` the clean accuracy)."""
    x_adv = attack(name, model, x, y, eps, **options)
    return float((predict(model, x_adv)[0] == y).float().mean())


def accuracy_curve(model: nn.Module, x, y, epsilons, names=("FGSM", "PGD")) -> dict[str, list[float]]:
    """Robust accuracy at each radius, for each attack: ``{name: [accuracy per eps]}``."""
    epsilons = [check_epsilon(e) for e in epsilons]
    return {name: [accuracy_under_attack(model, x, y, e, name) for e in epsilons] for name in names}


# --------------------------------------------------------------------------- adversarial training
def adversarial_training_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, y,
                              eps: float, name: str = "PGD", steps: int = 7) -> float:
    """One update of adversarial training: attack the batch against the current model, then
    take a gradient step on the loss at the attacked images,
    ``min_theta E max_{||delta|| <= eps} L(x + delta, y)`` (Madry et al., 2018).
    Returns the loss on the attacked batch."""
    options = {"steps": steps} if name == "PGD" else {}
    was_training = model.training
    model.eval()                          # the attacker sees the model without dropout
    x_adv = attack(name, model, x, y, eps, **options) if eps > 0 else x
    model.train(was_training)
    loss = F.cross_entropy(model(x_adv), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# --------------------------------------------------------------------------- fooling images
def fooling_images(model: nn.Module, start: torch.Tensor, targets: torch.Tensor, steps: int = 100,
                   lr: float = 0.05) -> torch.Tensor:
    """Gradient ascent on ``log p(target | x)`` from ``start`` (e.g. uniform noise), keeping
    pixels in [0, 1]: images the model labels as ``targets`` (Nguyen et al., 2015, who also
    used evolutionary search). Signed steps of size ``lr``, as in FGSM, but unbounded."""
    _check_batch(start, targets)
    x = start.detach().clone()
    for _ in range(steps):
        x = (x - lr * loss_gradient(model, x, targets).sign()).clamp(0.0, 1.0)
    return x.detach()


# --------------------------------------------------------------------------- generative models
def latent_attack(encode_mean, x: torch.Tensor, target_code: torch.Tensor, eps: float,
                  steps: int = 100, alpha: float | None = None) -> torch.Tensor:
    """Move ``x`` inside its eps-ball so that the encoder's mean code approaches ``target_code``:
    PGD on ``||mu(x') - z_target||^2`` (the latent attack of Kos et al., 2018; Tabacof et al.,
    2016 use a similar objective). ``encode_mean`` maps (n, d) images to (n, k) codes."""
    eps = check_epsilon(eps)
    _check_batch(x)
    if target_code.shape[0] != x.shape[0]:
        raise ValueError(f"one target code per image: got {target_code.shape[0]} codes "
                         f"for {x.shape[0]} images")
    alpha = 2.5 * eps / steps if alpha is None else float(alpha)
    x = x.detach()
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            distance = ((encode_mean(x_adv) - target_code) ** 2).sum()
            (grad,) = torch.autograd.grad(distance, x_adv)
        x_adv = project(x_adv.detach() - alpha * grad.sign(), x, eps)
    return x_adv.detach()
