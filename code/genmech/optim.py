"""Gradient descent and its descendants, on loss surfaces you can see.

The chapter *Gradient descent and optimization* reads this module. It holds

* :class:`Surface` and :data:`SURFACES`: 2D loss functions (a bowl, an elongated valley,
  Rosenbrock's banana, Himmelblau's four minima) written in torch, so that autograd gives
  their gradients;
* the update rules, written out by hand as in the text — :class:`GD`, :class:`Momentum`,
  :class:`RMSProp` and :class:`Adam` (Kingma & Ba, 2015) — checked against
  ``torch.optim`` in the tests;
* :func:`descend`, which follows one rule on one surface, and :class:`OptimizerRace`, the
  live-or-recorded demo that races them side by side.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from .live import Choice, Demo, Slider
from .plotting import COLORS, compact


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


def descend(surface: Surface, rule: GD, start, steps: int) -> np.ndarray:
    """Follow ``rule`` on ``surface`` from ``start``; returns the path, shape ``(steps + 1, 2)``."""
    w = np.asarray(start, dtype=np.float64)
    path = [w]
    for _ in range(steps):
        w = rule.update(w, surface.gradient(w))
        path.append(w)
    return np.array(path)


def contour_trace(surface: Surface, n: int = 80, showscale: bool = False) -> go.Contour:
    """The surface as filled contours (log-spaced where the loss spans many scales)."""
    xs, ys, Z = surface.grid(n)
    z = np.log10(Z + 1e-3) if surface.log_levels else Z
    return go.Contour(x=compact(xs), y=compact(ys), z=compact(z), colorscale="Blues",
                      reversescale=True, ncontours=25, showscale=showscale, hoverinfo="skip",
                      line=dict(width=0.5), name="loss" + (" (log10)" if surface.log_levels else ""))


# --------------------------------------------------------------------------- the race
RULES = ("GD", "Momentum", "RMSProp", "Adam")
PATH_POINTS = 2000


class OptimizerRace(Demo):
    """GD, momentum, RMSProp and Adam start from the same point of the same surface.

    Left: the surface and each optimizer's path. Right: each loss against the step, on a
    log scale. GD and momentum take the learning rate ``lr``; RMSProp and Adam, whose
    steps are already normalised, take ``adaptive_lr``.
    """

    title = "Optimizer race"
    params = (
        Choice("surface", tuple(SURFACES), "valley"),
        Slider("lr", 1e-4, 1.0, 0.1, log=True, label="learning rate (GD, momentum)", restart=True),
        Slider("momentum", 0.0, 0.99, 0.9, step=0.01, label="momentum β", restart=True),
        Slider("adaptive_lr", 1e-3, 1.0, 0.1, log=True, label="learning rate (RMSProp, Adam)",
               restart=True),
    )
    log_curves = True

    def build(self):
        hp = self.hp
        self.surface = get_surface(hp["surface"])
        self.rules = {"GD": GD(hp["lr"]), "Momentum": Momentum(hp["lr"], hp["momentum"]),
                      "RMSProp": RMSProp(hp["adaptive_lr"]), "Adam": Adam(hp["adaptive_lr"])}
        start = np.array(self.surface.start, dtype=np.float64)
        self.start_loss = self._loss(start)
        # the last PATH_POINTS points of each path: an hour of training stays bounded
        self.paths = {name: deque([start], maxlen=PATH_POINTS) for name in RULES}

    def _loss(self, w) -> float:
        return float(self.surface(torch.as_tensor(w)))

    def train_step(self):
        metrics = {}
        for name, rule in self.rules.items():
            w = self.paths[name][-1]
            with np.errstate(over="ignore", invalid="ignore"):
                w = rule.update(w, self.surface.gradient(w))
            self.paths[name].append(w)
            metrics[name] = self._loss(w)
        return metrics

    def figure(self):
        fig = make_subplots(rows=1, cols=2, column_widths=[0.58, 0.42],
                            subplot_titles=(f"{self.surface.name}: paths", "loss (log scale)"))
        fig.add_trace(contour_trace(self.surface), row=1, col=1)
        data = self.frame()
        for i, name in enumerate(RULES):
            fig.add_scatter(mode="lines+markers", name=name, legendgroup=name,
                            line=dict(color=COLORS[i], width=2), marker=dict(size=3),
                            row=1, col=1, **data[1 + i])
        for i, name in enumerate(RULES):
            fig.add_scatter(mode="lines", name=name, legendgroup=name, showlegend=False,
                            line=dict(color=COLORS[i], width=2), row=1, col=2,
                            **data[1 + len(RULES) + i])
        for m in self.surface.minima:
            fig.add_scatter(x=[m[0]], y=[m[1]], mode="markers", showlegend=False, hoverinfo="skip",
                            marker=dict(symbol="star", size=12, color="white",
                                        line=dict(color="black", width=1)), row=1, col=1)
        fig.update_xaxes(range=self.surface.xlim, row=1, col=1, title="w₁")
        fig.update_yaxes(range=self.surface.ylim, row=1, col=1, title="w₂")
        fig.update_yaxes(type="log", row=1, col=2)
        fig.update_xaxes(title="step", row=1, col=2)
        fig.update_layout(height=440, margin=dict(l=50, r=20, t=80, b=50),
                          legend=dict(orientation="h", x=0.5, xanchor="center", y=1.1,
                                      yanchor="bottom"))
        return fig

    def frame(self):
        """The contour never changes (None); then one path per rule; then one loss curve each."""
        paths, curves = [], []
        for name in RULES:
            p = np.array(self.paths[name])
            p = p[np.isfinite(p).all(axis=1)]
            paths.append(dict(x=compact(p[:, 0]), y=compact(p[:, 1])))
            s = self.metrics.series.get(name)
            steps = [0] + (s.steps if s else [])
            loss = [self.start_loss] + (s.values if s else [])
            curves.append(dict(x=compact(steps), y=compact(np.maximum(loss, 1e-12))))
        return [None] + paths + curves
