"""Gradient descent and its descendants, on loss surfaces you can see.

The chapter *Gradient descent and optimization* reads this module. It holds

* :class:`Surface` and :data:`SURFACES`: 2D loss functions (a bowl, an elongated valley,
  Rosenbrock's banana, Himmelblau's four minima) written in torch, so that autograd gives
  their gradients;
* the update rules, written out by hand as in the text — :class:`GD`, :class:`Momentum`,
  :class:`RMSProp` and :class:`Adam` (Kingma & Ba, 2015) — checked against
  ``torch.optim`` in the tests;
* :func:`descend`, which follows one rule on one surface, and :func:`largest_stable_lr`,
  which finds by experiment the learning rate beyond which it diverges;
* stochastic gradients on a real loss, the mean squared error of a line
  (:func:`line_data`, :func:`example_gradients`, :func:`minibatch_gradient`,
  :func:`gradient_noise`, :func:`sgd`), after Robbins & Monro (1951);
* the three habits of modern training: a learning-rate schedule with warm-up and cosine
  decay (:func:`warmup_cosine`), gradient-norm clipping (:func:`clip_by_norm`, Pascanu et
  al., 2013) and weight decay in Adam, as an L2 penalty (:class:`AdamL2`) or decoupled
  (:class:`AdamW`, Loshchilov & Hutter, 2019), each checked against PyTorch in the tests.

The chapter's figures and demos are in :mod:`genmech.optim_demos`: the paths drawn on
their surfaces, the optimizer race of the four rules and SGD against Adam on a network.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


# --------------------------------------------------------------------------- loss surfaces
@dataclass(frozen=True)
class Surface:
    """A loss function of two parameters ``w = (w1, w2)`` and the window it is drawn in."""

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    xlim: tuple
    ylim: tuple
    start: tuple          # where the race starts
    minima: tuple         # the global minima, for reference
    log_levels: bool = False  # contour the log of the loss (for steep surfaces)

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        """The loss at ``w`` of shape ``(..., 2)``."""
        return self.fn(w[..., 0], w[..., 1])

    def gradient(self, w) -> np.ndarray:
        """The gradient at ``w``, by autograd."""
        w = torch.as_tensor(w, dtype=torch.float64).clone().requires_grad_(True)
        self(w).sum().backward()
        return w.grad.numpy()

    def grid(self, n: int = 80):
        """``(xs, ys, Z)``: the loss on an ``n`` x ``n`` grid, for contour plots."""
        xs = torch.linspace(*self.xlim, n, dtype=torch.float64)
        ys = torch.linspace(*self.ylim, n, dtype=torch.float64)
        X, Y = torch.meshgrid(xs, ys, indexing="xy")
        Z = self.fn(X, Y)
        return xs.numpy(), ys.numpy(), Z.numpy()


SURFACES = {
    "bowl": Surface("bowl", lambda x, y: 0.5 * (x**2 + y**2),
                    (-3, 3), (-3, 3), (-2.5, 2.0), ((0.0, 0.0),)),
    "valley": Surface("valley", lambda x, y: 0.5 * (0.1 * x**2 + 10 * y**2),
                      (-6, 6), (-2, 2), (-5.5, 1.0), ((0.0, 0.0),)),
    "rosenbrock": Surface("rosenbrock", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
                          (-2, 2), (-1, 3), (-1.5, 2.5), ((1.0, 1.0),), log_levels=True),
    "himmelblau": Surface("himmelblau", lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
                          (-5, 5), (-5, 5), (0.0, -0.5),
                          ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                           (3.584428, -1.848126)), log_levels=True),
}


def get_surface(name: str) -> Surface:
    if name not in SURFACES:
        raise ValueError(f"unknown surface {name!r}; choose one of {', '.join(SURFACES)}")
    return SURFACES[name]


def quadratic(a: float, b: float, start=(-2.5, 1.5)) -> Surface:
    """The quadratic bowl ``L(w) = (a w1^2 + b w2^2) / 2``, whose curvatures are ``a`` and ``b``.

    Its gradient is ``(a w1, b w2)``: every question about gradient descent on it can be
    answered on paper, which is why the text derives its results here first."""
    if not (a > 0 and b > 0):
        raise ValueError(f"the curvatures must be positive, got a={a}, b={b}")
    return Surface(f"quadratic a={a:g}, b={b:g}", lambda x, y: 0.5 * (a * x**2 + b * y**2),
                   (-3, 3), (-2, 2), tuple(start), ((0.0, 0.0),))


# --------------------------------------------------------------------------- update rules
class GD:
    """Plain gradient descent: ``w <- w - lr * g``."""

    def __init__(self, lr: float):
        if lr <= 0:
            raise ValueError(f"the learning rate must be positive, got {lr}")
        self.lr = lr

    def update(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        return w - self.lr * g


class Momentum(GD):
    """Heavy-ball momentum (Polyak, 1964): a velocity ``v <- beta v + g``; ``w <- w - lr v``."""

    def __init__(self, lr: float, beta: float = 0.9):
        super().__init__(lr)
        if not 0 <= beta < 1:
            raise ValueError(f"momentum beta must be in [0, 1), got {beta}")
        self.beta, self.v = beta, 0.0

    def update(self, w, g):
        self.v = self.beta * self.v + g
        return w - self.lr * self.v


class RMSProp(GD):
    """RMSProp (Tieleman & Hinton, 2012): divide by a running root-mean-square of the gradient."""

    def __init__(self, lr: float, rho: float = 0.99, eps: float = 1e-8):
        super().__init__(lr)
        self.rho, self.eps, self.s = rho, eps, 0.0

    def update(self, w, g):
        self.s = self.rho * self.s + (1 - self.rho) * g**2
        return w - self.lr * g / (np.sqrt(self.s) + self.eps)


class Adam(GD):
    """Adam (Kingma & Ba, 2015): momentum on ``g`` and RMSProp on ``g**2``, both bias-corrected."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m, self.s, self.t = 0.0, 0.0, 0

    def update(self, w, g):
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.s = self.b2 * self.s + (1 - self.b2) * g**2
        m_hat = self.m / (1 - self.b1**self.t)
        s_hat = self.s / (1 - self.b2**self.t)
        return w - self.lr * m_hat / (np.sqrt(s_hat) + self.eps)


def descend(surface: Surface, rule: GD, start, steps: int,
            max_norm: float | None = None) -> np.ndarray:
    """Follow ``rule`` on ``surface`` from ``start``; returns the path, shape ``(steps + 1, 2)``.
    With ``max_norm``, each gradient is first clipped to that length (:func:`clip_by_norm`)."""
    w = np.asarray(start, dtype=np.float64)
    path = [w]
    for _ in range(steps):
        g = surface.gradient(w)
        if max_norm is not None:
            (g,), _ = clip_by_norm([g], max_norm)
        w = rule.update(w, g)
        path.append(w)
    return np.array(path)


def first_step_below(surface: Surface, path: np.ndarray, target: float = 1e-3) -> int | None:
    """The first step of ``path`` at which the loss is below ``target`` (``None``: never)."""
    with np.errstate(over="ignore", invalid="ignore"):
        losses = surface(torch.as_tensor(np.asarray(path, dtype=np.float64))).numpy()   # (steps + 1,)
    below = np.flatnonzero(losses < target)
    return int(below[0]) if len(below) else None


def diverged(path: np.ndarray, surface: Surface) -> bool:
    """Whether a path ended higher than it began, or left the real numbers."""
    end, start = path[-1], path[0]
    if not np.isfinite(end).all():
        return True
    return float(surface(torch.as_tensor(end))) > float(surface(torch.as_tensor(start)))


def largest_stable_lr(surface: Surface, start, low: float = 1e-4, high: float = 10.0,
                      steps: int = 200, tol: float = 1e-4) -> float:
    """The learning rate at which gradient descent from ``start`` stops converging, found by
    bisection between ``low`` (must converge) and ``high`` (must diverge): an experiment that
    checks the stability condition ``lr < 2 / curvature`` derived in the text."""
    def bad(lr):
        with np.errstate(over="ignore", invalid="ignore"):
            return diverged(descend(surface, GD(lr), start, steps), surface)
    if bad(low) or not bad(high):
        raise ValueError(f"need GD to converge at lr={low} and diverge at lr={high}")
    while high - low > tol:
        mid = 0.5 * (low + high)
        low, high = (low, mid) if bad(mid) else (mid, high)
    return 0.5 * (low + high)


# --------------------------------------------------------------------------- stochastic gradients
def line_data(n: int = 1000, slope: float = 1.5, intercept: float = -0.5, noise: float = 0.5,
              seed: int = 0):
    """``n`` points ``(x_i, y_i)`` scattered around the line ``y = slope x + intercept``."""
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    return x, slope * x + intercept + rng.normal(0, noise, n)


def line_surface(x: np.ndarray, y: np.ndarray, xlim=(-1, 4), ylim=(-3, 2)) -> Surface:
    """The mean squared error of the line ``w1 x + w2`` on the data ``(x, y)``, as a Surface."""
    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    A = np.stack([x, np.ones_like(x)], 1)
    best = tuple(float(v) for v in np.linalg.lstsq(A, y, rcond=None)[0])
    return Surface("line fit", lambda a, b: ((a[..., None] * xt + b[..., None] - yt) ** 2).mean(-1),
                   xlim, ylim, (xlim[0] + 0.5, ylim[1] - 0.5), (best,))


def example_gradients(w, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of each example's loss ``(w1 x_i + w2 - y_i)^2``: shape ``(n, 2)``.

    ``d/dw (w1 x + w2 - y)^2 = 2 r (x, 1)`` with the residual ``r = w1 x + w2 - y``; the
    full gradient of the mean squared error is the mean of these rows."""
    r = w[0] * x + w[1] - y                       # (n,)
    return 2 * np.stack([r * x, r], axis=1)       # (n, 2)


def minibatch_gradient(w, x, y, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """The mean gradient over ``batch_size`` examples drawn uniformly (with replacement)."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    idx = rng.integers(0, len(x), batch_size)
    return example_gradients(w, x[idx], y[idx]).mean(axis=0)


def gradient_noise(w, x, y, batch_sizes, trials: int = 2000, seed: int = 0) -> dict:
    """For each batch size ``B``: the mean error of the mini-batch gradient (its bias, which
    should be ~0) and its mean squared error ``E||g_B - g||^2`` (which theory says is
    ``tr(Sigma) / B``, with ``Sigma`` the covariance of one example's gradient)."""
    rng = np.random.default_rng(seed)
    full = example_gradients(w, x, y).mean(axis=0)
    out = {}
    for B in batch_sizes:
        errors = np.array([minibatch_gradient(w, x, y, int(B), rng) - full for _ in range(trials)])
        out[int(B)] = dict(bias=float(np.linalg.norm(errors.mean(axis=0))),
                           mse=float((errors**2).sum(axis=1).mean()))
    return out


def sgd(x, y, start, lr: float, steps: int, batch_size: int, decay: float = 0.0,
        seed: int = 0) -> np.ndarray:
    """Mini-batch SGD on the line fit, ``lr_t = lr / (1 + decay t)``; the path ``(steps + 1, 2)``.

    With ``decay > 0`` the steps satisfy Robbins & Monro's conditions (their sum diverges,
    the sum of their squares does not), and the iterates converge to the minimum."""
    if lr <= 0 or decay < 0:
        raise ValueError(f"need lr > 0 and decay >= 0, got lr={lr}, decay={decay}")
    rng = np.random.default_rng(seed)
    w = np.asarray(start, dtype=np.float64)
    path = [w]
    for t in range(steps):
        w = w - lr / (1 + decay * t) * minibatch_gradient(w, x, y, batch_size, rng)
        path.append(w)
    return np.array(path)



# --------------------------------------------------------------------------- schedules, clipping, weight decay
def warmup_cosine(step: int, total: int, peak_lr: float, warmup: int = 0,
                  final_lr: float = 0.0) -> float:
    """The learning rate at ``step`` (0, 1, ..., ``total`` - 1): a linear warm-up over the
    first ``warmup`` steps (Goyal et al., 2017), ``peak_lr (step + 1) / warmup``, then a
    cosine decay from ``peak_lr`` to ``final_lr`` (Loshchilov & Hutter, 2017),
    ``final_lr + (peak_lr - final_lr) (1 + cos(pi (step - warmup) / (total - warmup))) / 2``."""
    if not 0 <= warmup < total:
        raise ValueError(f"need 0 <= warmup < total steps, got warmup={warmup}, total={total}")
    if not 0 <= final_lr <= peak_lr:
        raise ValueError(f"need 0 <= final_lr <= peak_lr, got final_lr={final_lr}, peak_lr={peak_lr}")
    if step < warmup:
        return peak_lr * (step + 1) / warmup
    progress = (step - warmup) / (total - warmup)        # 0 at the peak, -> 1 at the end
    return final_lr + (peak_lr - final_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def clip_by_norm(grads: list, max_norm: float):
    """Gradient-norm clipping (Pascanu et al., 2013): if the norm of all the gradients
    together, ``||g||``, exceeds ``max_norm``, scale them all by ``max_norm / ||g||``, which
    keeps their direction. Returns the scaled gradients and ``||g||`` before clipping.
    (As in PyTorch, ``1e-6`` is added to ``||g||`` in the scale, so that it stays finite.)"""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = math.sqrt(sum(float((g**2).sum()) for g in grads))
    scale = min(1.0, max_norm / (norm + 1e-6))
    return [g * scale for g in grads], norm


class AdamL2(Adam):
    """Adam with an L2 penalty ``(lambda / 2) ||w||^2`` added to the loss: its gradient
    ``lambda w`` joins ``g`` *before* the moment estimates, so it is divided by ``sqrt(s)``
    with the rest (what ``torch.optim.Adam(weight_decay=lambda)`` does)."""

    def __init__(self, lr: float, weight_decay: float, **kw):
        super().__init__(lr, **kw)
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.weight_decay = weight_decay

    def update(self, w, g):
        return super().update(w, g + self.weight_decay * w)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam's step on the loss gradient alone, and the
    weights shrunk directly by ``lr * lambda * w``, *decoupled* from the adaptive step."""

    def __init__(self, lr: float, weight_decay: float = 0.01, **kw):
        super().__init__(lr, **kw)
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.weight_decay = weight_decay

    def update(self, w, g):
        w = w - self.lr * self.weight_decay * w       # decay: every weight, the same rate
        return super().update(w, g)                   # then Adam's step, g from the loss alone
