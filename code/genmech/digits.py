"""scikit-learn's handwritten digits, and a judge for generated ones.

The digits (Alpaydin & Kaynak, 1998; 1,797 images of 8 x 8 pixels, ten classes) ship
inside scikit-learn, so nothing is downloaded. The GAN and VAE chapters train generators
on them and need an honest, shared way to score what comes out: :func:`judge` trains a
small classifier once (a few seconds) and reports how confidently it recognises samples
and which of the ten classes appear, with real test digits as the reference.
:func:`features` is the judge's view of an image, the space where
:mod:`genmech.quality` measures precision and recall. :func:`tile` lays images out side by side; :func:`genmech.digits_demos.image_grid` draws them.
"""
from __future__ import annotations

import gzip
import importlib.util
import pathlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

SIDE = 8          # images are SIDE x SIDE pixels
PIXELS = SIDE * SIDE


@lru_cache(maxsize=1)
def raw() -> tuple[np.ndarray, np.ndarray]:
    """``(data, target)`` as ``sklearn.datasets.load_digits()`` gives them: pixel counts 0-16,
    shape (1797, 64), and the classes 0-9.

    Read from the file inside the installed scikit-learn, which is located, not imported
    (importing it takes a second, in every notebook that uses the digits); a unit test
    checks that the arrays equal ``load_digits()``'s."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the digits ship with scikit-learn: install scikit-learn")
    path = pathlib.Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def load(seed: int = 0, test_fraction: float = 0.2):
    """``(X_train, y_train, X_test, y_test)``: images as float tensors in [0, 1], shape (n, 64)."""
    data, target = raw()
    X = torch.tensor(data / 16.0, dtype=torch.float32)
    y = torch.tensor(target, dtype=torch.int64)
    idx = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    k = int(len(X) * (1 - test_fraction))
    return X[idx[:k]], y[idx[:k]], X[idx[k:]], y[idx[k:]]


def classifier() -> nn.Module:
    """A small MLP classifier: 64 pixels -> 128 -> 10 class scores."""
    return nn.Sequential(nn.Linear(PIXELS, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


@lru_cache(maxsize=1)
def trained_classifier(seed: int = 0, epochs: int = 40) -> nn.Module:
    """The judge: trained once per process on the training digits (about 2 s on a CPU)."""
    X, y, _, _ = load()
    # fork_rng: training the judge must not shift the random numbers of the calling page
    with torch.random.fork_rng(), torch.enable_grad():
        torch.manual_seed(seed)
        model = classifier()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(epochs):
            for batch in torch.randperm(len(X)).split(64):
                loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


@dataclass
class Verdict:
    """What the judge says of a batch of images."""

    confidence: float          # mean probability of the predicted class
    classes_present: int       # how many of the ten digits were predicted at least once
    class_counts: np.ndarray   # predictions per class, shape (10,)
    predictions: np.ndarray    # predicted class per image

    def __str__(self):
        return (f"mean confidence {self.confidence:.2f}, "
                f"{self.classes_present}/10 classes present")


def judge(images) -> Verdict:
    """Classify ``images`` (n, 64) in [0, 1] and summarise confidence and class coverage."""
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim != 2 or images.shape[1] != PIXELS:
        raise ValueError(f"images must have shape (n, {PIXELS}), got {tuple(images.shape)}")
    with torch.no_grad():
        probs = torch.softmax(trained_classifier()(images.clamp(0, 1)), dim=1)
    conf, pred = probs.max(dim=1)
    counts = np.bincount(pred.numpy(), minlength=10)
    return Verdict(float(conf.mean()), int((counts > 0).sum()), counts, pred.numpy())


def features(images) -> torch.Tensor:
    """The judge's view of ``images`` (n, 64): its 128 hidden activations per image.

    Distances between these vectors say how alike two digits look *to the judge*; the
    sample-quality measures of :mod:`genmech.quality` work in this space.
    """
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim != 2 or images.shape[1] != PIXELS:
        raise ValueError(f"images must have shape (n, {PIXELS}), got {tuple(images.shape)}")
    hidden = trained_classifier()[:2]          # Linear(64, 128), ReLU
    with torch.no_grad():
        return hidden(images.clamp(0, 1))


def judge_accuracy() -> float:
    """The judge's accuracy on held-out real digits: how far to trust it."""
    _, _, X, y = load()
    with torch.no_grad():
        return float((trained_classifier()(X).argmax(1) == y).float().mean())


def tile(images, ncols: int = 10, gap: int = 1) -> np.ndarray:
    """Images (n, 64) as one 2D array of ``ncols`` tiles per row, separated by ``gap`` pixels."""
    images = np.asarray(torch.as_tensor(images).detach(), dtype=np.float32).reshape(-1, SIDE, SIDE)
    n = len(images)
    nrows = -(-n // ncols)
    step = SIDE + gap
    out = np.full((nrows * step - gap, ncols * step - gap), np.nan, dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * step:r * step + SIDE, c * step:c * step + SIDE] = img
    return out
