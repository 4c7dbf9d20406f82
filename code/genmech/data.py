"""Small datasets generated in code or shipped inside scikit-learn: nothing is downloaded.

2D toy distributions (moons, circles, XOR, spirals, a ring or a grid of Gaussians) are
the book's microscope: a model's whole behaviour can be drawn on one page. Every
function takes a ``seed`` so a section gives the same numbers on every run.
"""
from __future__ import annotations

import numpy as np
import torch

CLASSIFICATION = ("moons", "circles", "xor", "spirals")
DENSITIES = ("ring", "grid", "moons", "spiral", "line")


def _check(n: int, noise: float) -> None:
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if not 0 <= noise <= 2:
        raise ValueError(f"noise must be between 0 and 2, got {noise}")


def spirals(n: int = 400, noise: float = 0.1, turns: float = 1.5, seed: int = 0):
    """Two interleaved spirals, labels 0 and 1; ``(X, y)`` as numpy arrays."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    m = n // 2
    t = np.sqrt(rng.uniform(0, 1, m)) * turns * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (turns * 2 * np.pi) * 2
    X = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * m, 2)) * 0.5
    y = np.concatenate([np.zeros(m), np.ones(m)]).astype(np.int64)
    return X.astype(np.float32), y


def xor(n: int = 400, noise: float = 0.1, seed: int = 0):
    """Points in four quadrants; the label is 1 where the signs of x and y differ."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    X = X + rng.normal(0, noise, X.shape) * 0.5
    return X.astype(np.float32), y


def classification(name: str, n: int = 400, noise: float = 0.1, seed: int = 0):
    """A 2D two-class dataset by name (see :data:`CLASSIFICATION`); ``(X, y)`` numpy arrays."""
    _check(n, noise)
    if name == "moons":
        from sklearn import datasets as skd       # imported on use: it takes a second

        X, y = skd.make_moons(n, noise=noise, random_state=seed)
        X = (X - [0.5, 0.25]) / [1.0, 0.5] * 0.9
    elif name == "circles":
        from sklearn import datasets as skd

        X, y = skd.make_circles(n, noise=noise * 0.5, factor=0.5, random_state=seed)
    elif name == "xor":
        X, y = xor(n, noise, seed)
    elif name == "spirals":
        X, y = spirals(n, noise, seed=seed)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(CLASSIFICATION)}")
    return np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)


def density(name: str, n: int = 512, seed: int = 0, noise: float = 0.05) -> torch.Tensor:
    """Samples of a 2D distribution for generative models; a float tensor of shape (n, 2).

    ``ring``: 8 Gaussians on a circle of radius 2; ``grid``: 25 Gaussians on a 5x5 grid;
    ``moons``; ``spiral``; ``line``: a segment. See :func:`mode_centers` for the modes.
    """
    _check(n, noise)
    rng = np.random.default_rng(seed)
    if name in ("ring", "grid"):
        centers = mode_centers(name)
        X = centers[rng.integers(0, len(centers), n)] + rng.normal(0, noise, (n, 2))
    elif name == "moons":
        from sklearn import datasets as skd

        X, _ = skd.make_moons(n, noise=noise, random_state=seed)
        X = (X - [0.5, 0.25]) * 1.5
    elif name == "spiral":
        t = np.sqrt(rng.uniform(0.05, 1, n)) * 3 * np.pi
        X = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (1.5 * np.pi) + rng.normal(0, noise, (n, 2))
    elif name == "line":
        t = rng.uniform(-2, 2, n)
        X = np.stack([t, 0.5 * t], 1) + rng.normal(0, noise, (n, 2))
    else:
        raise ValueError(f"unknown distribution {name!r}; choose one of {', '.join(DENSITIES)}")
    return torch.as_tensor(X, dtype=torch.float32)


def mode_centers(name: str) -> np.ndarray:
    """The centres of the Gaussians of ``ring`` (8) or ``grid`` (25)."""
    if name == "ring":
        a = np.arange(8) * 2 * np.pi / 8
        return 2.0 * np.stack([np.cos(a), np.sin(a)], 1)
    if name == "grid":
        g = np.arange(-2, 3, dtype=float)
        return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    raise ValueError(f"{name!r} has no discrete modes; use 'ring' or 'grid'")


def train_test_split(X, y, test_fraction: float = 0.3, seed: int = 0):
    """Shuffle and split arrays into ``(X_train, y_train, X_test, y_test)``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    idx = np.random.default_rng(seed).permutation(len(X))
    k = int(round(len(X) * (1 - test_fraction)))
    return X[idx[:k]], y[idx[:k]], X[idx[k:]], y[idx[k:]]
