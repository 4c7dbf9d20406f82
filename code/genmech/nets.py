"""Networks and training helpers shared by every chapter: one name per thing.

* :data:`ACTIVATIONS`, :func:`mlp` (a multilayer perceptron as an ``nn.Sequential``) and
  :class:`MLP` with :class:`MLPConfig` (the same network as an ``nn.Module``, after
  nanoGPT's style); :func:`count_parameters`. The chapter *Neural networks and deep
  learning* derives them (:mod:`genmech.nn`); the GAN, VAE and gradient-descent chapters
  build their networks with them.
* :data:`OPTIMIZERS`, :func:`make_optimizer` (Adam, Kingma & Ba, 2015, or plain SGD by
  name) and :func:`set_learning_rate`, which every demo uses to fold a changed learning
  rate into its optimizer.
* :func:`decision_grid`, the points of a 2D grid at which a classifier's heatmap is
  evaluated, and :func:`accuracy`, the fraction of points a binary classifier gets right.

Not to be confused with :class:`genmech.autograd.ScalarMLP` (the from-scratch network of
Values in the backpropagation section) or :class:`genmech.gpt.FeedForward` (the
transformer block's position-wise network).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "leaky_relu": lambda: nn.LeakyReLU(0.2), "gelu": nn.GELU}


# Optimizers the demos offer: Adam, or plain (full-batch) gradient descent, torch's SGD.
OPTIMIZERS = ("Adam", "SGD")


def check_activation(name) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def check_sizes(sizes) -> None:
    if len(sizes) < 2 or any((not isinstance(s, (int, np.integer))) or isinstance(s, bool) or s < 1
                             for s in sizes):
        raise ValueError(f"sizes must be two or more positive ints, got {sizes!r}")


def mlp(sizes: list[int], activation: str = "relu", out_activation: str | None = None) -> nn.Sequential:
    """A multilayer perceptron: ``Linear -> activation`` for each consecutive pair of ``sizes``.

    ``mlp([2, 16, 16, 1])`` maps 2 inputs through two hidden layers of 16 units to 1 output;
    the last layer has no activation unless ``out_activation`` names one.
    """
    check_sizes(sizes)
    for name in (activation, out_activation):
        if name is not None:
            check_activation(name)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(sizes) - 2
        if not last:
            layers.append(ACTIVATIONS[activation]())
        elif out_activation:
            layers.append(ACTIVATIONS[out_activation]())
    return nn.Sequential(*layers)


@dataclass
class MLPConfig:
    """The shape of a multilayer perceptron."""

    sizes: tuple = (2, 16, 16, 1)   # input width, hidden widths..., output width
    activation: str = "relu"        # a key of ACTIVATIONS, applied after every hidden layer
    dropout: float = 0.0            # probability of zeroing a hidden unit while training


class MLP(nn.Module):
    """The multilayer perceptron as an ``nn.Module``: ``f = f_L o ... o f_1``.

    Each hidden layer computes ``h_l = dropout(sigma(W_l h_{l-1} + b_l))``; the last layer is
    affine, ``W_L h_{L-1} + b_L``, so a classifier's output is a logit. Its parameters are
    created in the same order as :func:`mlp`'s, so the same seed gives the same network.
    """

    def __init__(self, config: MLPConfig):
        super().__init__()
        check_sizes(config.sizes)
        check_activation(config.activation)
        if not 0 <= config.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {config.dropout}")
        self.config = config
        sizes = config.sizes
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = ACTIVATIONS[config.activation]()
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """What every hidden unit computes: one ``(N, width_l)`` tensor per hidden layer."""
        states = []
        for linear in self.linears[:-1]:
            x = self.dropout(self.activation(linear(x)))   # (N, width_l)
            states.append(x)
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (N, sizes[0]) -> (N, sizes[-1])
        for linear in self.linears[:-1]:
            x = self.dropout(self.activation(linear(x)))
        return self.linears[-1](x)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0):
    """An optimizer by name (one of :data:`OPTIMIZERS`) over ``params``."""
    if name == "Adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def fit(opt: torch.optim.Optimizer, batch_loss, steps: int, on_step=None) -> list[float]:
    """The book's training loop: ``steps`` times, the loss of a fresh batch (``batch_loss()``,
    a scalar tensor), its gradient by backpropagation, one step of ``opt``. Returns the loss
    of each step. Stops early when ``on_step(step, loss)`` returns True."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
    losses = []
    for step in range(steps):
        loss = batch_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if on_step is not None and on_step(step, losses[-1]):
            break
    return losses


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of points on the right side of the boundary ``logit = 0``."""
    return ((logits > 0).float() == y).float().mean().item()


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float, **settings) -> None:
    """Set the learning rate of every parameter group of ``optimizer`` to ``lr``, and any
    other group setting named in ``settings`` (e.g. ``weight_decay=1e-3``).

    A demo calls this when a reader moves a slider: the optimizer keeps its state (Adam's
    moments, momentum), only its step size changes."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        group.update(settings)


def decision_grid(xs, ys=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The points of the grid ``xs`` x ``ys`` (``ys`` defaults to ``xs``) as a tensor
    ``(len(ys) * len(xs), 2)``, row by row (x varies fastest), so that a classifier's output
    on them reshapes to a ``(len(ys), len(xs))`` heatmap."""
    xs = torch.as_tensor(np.asarray(xs))
    ys = xs if ys is None else torch.as_tensor(np.asarray(ys))
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")                     # (len(ys), len(xs)) each
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(dtype)  # (len(ys) * len(xs), 2)
