"""Neural networks: the multilayer perceptron every chapter builds on.

The chapter *Neural networks and deep learning* reads this module.
"""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "leaky_relu": lambda: nn.LeakyReLU(0.2), "gelu": nn.GELU}


def mlp(sizes: list[int], activation: str = "relu", out_activation: str | None = None) -> nn.Sequential:
    """A multilayer perceptron: ``Linear -> activation`` for each consecutive pair of ``sizes``.

    ``mlp([2, 16, 16, 1])`` maps 2 inputs through two hidden layers of 16 units to 1 output;
    the last layer has no activation unless ``out_activation`` names one.
    """
    if len(sizes) < 2 or any((not isinstance(s, int)) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be two or more positive ints, got {sizes!r}")
    for name in (activation, out_activation):
        if name is not None and name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(sizes) - 2
        if not last:
            layers.append(ACTIVATIONS[activation]())
        elif out_activation:
            layers.append(ACTIVATIONS[out_activation]())
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
