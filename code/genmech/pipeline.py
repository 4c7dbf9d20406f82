"""From raw data to a training set: what a generative system does before it learns.

The chapter *How a generative AI system works, end to end* (section 1, *Data input and
preprocessing*) reads this module. It holds

* scaling: :class:`Scaler` (``raw``, ``minmax`` or ``standard``, fitted on the training
  data only), :func:`hessian_condition` (why scaling matters for gradient descent) and
  :func:`steps_to_loss` (how many full-batch gradient steps a network needs to reach a
  stated loss); :func:`wine`, a small table whose columns differ a thousandfold in scale;
* augmentation: :func:`augment` (random shifts and rotations of the 8 x 8 digits);
* classifiers on few examples: :func:`fit_classifier` and :func:`evaluate_classifier`;
* text: :func:`clean_text`, :func:`function_docstrings` (a second corpus, the docstrings
  of functions in Python's standard library) and :func:`leak` (copy test text into the
  training text, to measure what leakage does);
* quantity and quality: :func:`corrupt_labels`, :func:`repeat_subset` and
  :func:`fit_power_law` for a learning curve ``L(n) = a n^(-b) + c``.

Torch and numpy only (scikit-learn's loader and the standard library's sources are read
as data), so the code reads like the page's equations.
"""
from __future__ import annotations

import ast
import math
import pathlib
import re
import sysconfig
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import digits

# --------------------------------------------------------------------------- scaling
SCALINGS = ("raw", "minmax", "standard")


def wine() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's wine table (Aeberhard et al.; 178 wines, 13 chemical measurements,
    3 cultivars) as ``X`` (178, 13) float32 and ``y`` (178,) int64. Its columns range from
    about 0.1 (hue) to about 1,700 (proline): the raw numbers are badly scaled."""
    from sklearn.datasets import load_wine   # ships with scikit-learn: nothing is downloaded
    d = load_wine()
    return torch.tensor(d.data, dtype=torch.float32), torch.tensor(d.target, dtype=torch.int64)


@dataclass
class Scaler:
    """``x' = (x - shift) / scale`` per column, with ``shift`` and ``scale`` fitted on the
    training data only (fitting them on test data would leak it into training).

    * ``raw``: shift 0, scale 1 (the numbers as measured);
    * ``minmax``: shift = column minimum, scale = max - min, so training values lie in [0, 1];
    * ``standard``: shift = column mean, scale = column standard deviation (mean 0, variance 1).

    A constant column (scale 0) keeps scale 1 instead of dividing by zero.
    """

    kind: str = "standard"

    def __post_init__(self):
        if self.kind not in SCALINGS:
            raise ValueError(f"unknown scaling {self.kind!r}; choose one of {', '.join(SCALINGS)}")
        self.shift = self.scale = None

    def fit(self, X: torch.Tensor) -> "Scaler":
        X = torch.as_tensor(X, dtype=torch.float32)
        if X.ndim != 2 or len(X) < 2:
            raise ValueError(f"fit needs a (n, d) table with n >= 2 rows, got shape {tuple(X.shape)}")
        if self.kind == "raw":
            self.shift, self.scale = torch.zeros(X.shape[1]), torch.ones(X.shape[1])
        elif self.kind == "minmax":
            self.shift, self.scale = X.min(0).values, X.max(0).values - X.min(0).values
        else:
            self.shift, self.scale = X.mean(0), X.std(0)
        self.scale = torch.where(self.scale > 0, self.scale, torch.ones_like(self.scale))
        return self

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        if self.shift is None:
            raise ValueError("call fit(training data) before transform")
        return (torch.as_tensor(X, dtype=torch.float32) - self.shift) / self.scale


def hessian_condition(X: torch.Tensor) -> float:
    """The condition number ``lambda_max / lambda_min`` of ``H = [X, 1]^T [X, 1] / n``.

    ``H`` is the Hessian of the mean squared error of a linear model ``w.x + b`` (the
    cross-entropy of a linear classifier has a Hessian of the same form, weighted by the
    softmax's variances). Gradient descent is stable only for a step ``eta < 2 / lambda_max``
    and then shrinks the error along the flattest direction by a factor ``1 - eta
    lambda_min`` per step: about ``kappa = lambda_max / lambda_min`` steps per e-fold.
    """
    X = torch.as_tensor(X, dtype=torch.float64)
    A = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1)        # (n, d + 1)
    eig = torch.linalg.eigvalsh(A.T @ A / len(A))
    return float(eig[-1] / eig[0].clamp_min(1e-300))


def steps_to_loss(X: torch.Tensor, y: torch.Tensor, lr: float, target: float,
                  max_steps: int = 2000, hidden: int = 0, seed: int = 0) -> int | None:
    """Full-batch gradient descent on a softmax classifier of ``X`` (a linear one, or one
    hidden tanh layer of ``hidden`` units); the number of steps until the training
    cross-entropy is below ``target``, or ``None`` if it never is within ``max_steps``
    (including a run that diverges)."""
    if lr <= 0 or target <= 0:
        raise ValueError(f"lr and target must be positive, got lr={lr}, target={target}")
    torch.manual_seed(seed)
    d, k = X.shape[1], int(y.max()) + 1
    model = (nn.Linear(d, k) if hidden == 0 else
             nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, k)))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(max_steps + 1):
        loss = F.cross_entropy(model(X), y)
        if not torch.isfinite(loss):
            return None
        if loss.item() < target:
            return step
        opt.zero_grad()
        loss.backward()
        opt.step()
    return None


# --------------------------------------------------------------------------- augmentation
def augment(images: torch.Tensor, copies: int, max_shift: float = 1.0, max_degrees: float = 15.0,
            seed: int = 0) -> torch.Tensor:
    """``copies`` randomly moved versions of every 8 x 8 image ``(n, 64)``: each is rotated by
    an angle uniform in ``[-max_degrees, max_degrees]`` and shifted by up to ``max_shift``
    pixels in x and y (bilinear interpolation, zeros outside). Returns ``(n * copies, 64)``,
    copy by copy."""
    images = digits_tensor(images)
    if not isinstance(copies, int) or copies < 1:
        raise ValueError(f"copies must be a positive int, got {copies!r}")
    if max_shift < 0 or max_degrees < 0:
        raise ValueError("max_shift and max_degrees must be >= 0")
    gen = torch.Generator().manual_seed(seed)
    x = images.repeat(copies, 1).reshape(-1, 1, digits.SIDE, digits.SIDE)   # (N, 1, 8, 8)
    N = len(x)
    angle = (torch.rand(N, generator=gen) * 2 - 1) * math.radians(max_degrees)
    shift = (torch.rand(N, 2, generator=gen) * 2 - 1) * max_shift * 2 / digits.SIDE  # grid units
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)               # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(N, digits.PIXELS).clamp(0, 1)


def digits_tensor(images) -> torch.Tensor:
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim != 2 or images.shape[1] != digits.PIXELS or len(images) == 0:
        raise ValueError(f"images must have shape (n, {digits.PIXELS}) with n >= 1, "
                         f"got {tuple(images.shape)}")
    return images


def per_class(X: torch.Tensor, y: torch.Tensor, n: int, seed: int = 0):
    """The first ``n`` examples of each class after a seeded shuffle: a small, balanced set."""
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    keep = torch.cat([order[y[order] == c][:n] for c in range(int(y.max()) + 1)])
    return X[keep], y[keep]


# --------------------------------------------------------------------------- a classifier
def fit_classifier(X: torch.Tensor, y: torch.Tensor, steps: int = 300, batch: int = 64,
                   lr: float = 3e-3, seed: int = 0) -> nn.Module:
    """The judge's architecture (:func:`genmech.digits.classifier`) trained with Adam on
    ``X, y`` for ``steps`` minibatch steps; returned in evaluation mode."""
    X = digits_tensor(X)
    if len(X) != len(y):
        raise ValueError(f"{len(X)} images but {len(y)} labels")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = digits.classifier()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for _ in range(steps):
            idx = torch.randint(0, len(X), (min(batch, len(X)),), generator=gen)
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def evaluate_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> dict:
    """Test accuracy and test cross-entropy (nats per image)."""
    logits = model(X)
    return {"accuracy": float((logits.argmax(1) == y).float().mean()),
            "loss": float(F.cross_entropy(logits, y))}


# --------------------------------------------------------------------------- quantity and quality
def corrupt_labels(y: torch.Tensor, fraction: float, classes: int = 10, seed: int = 0) -> torch.Tensor:
    """A copy of ``y`` in which a ``fraction`` of the labels, chosen at random, is replaced by
    a *different* class drawn uniformly: wrong labels, as careless annotation makes them."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    gen = torch.Generator().manual_seed(seed)
    y = y.clone()
    pick = torch.randperm(len(y), generator=gen)[:round(fraction * len(y))]
    y[pick] = (y[pick] + torch.randint(1, classes, (len(pick),), generator=gen)) % classes
    return y


def repeat_subset(X: torch.Tensor, y: torch.Tensor, unique: int, size: int, seed: int = 0):
    """A training set of ``size`` examples made of only ``unique`` distinct ones, each
    repeated: the same amount of data, less diversity."""
    if not 1 <= unique <= min(size, len(X)):
        raise ValueError(f"unique must be in [1, min(size, len(X))], got {unique}")
    pick = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))[:unique]
    idx = pick.repeat(-(-size // unique))[:size]
    return X[idx], y[idx]


def fit_power_law(n, loss) -> dict:
    """Fit ``L(n) = a n^(-b) + c`` to a learning curve by least squares on ``log(L - c)``.

    For a fixed floor ``c`` the fit is a straight line, ``log(L - c) = log a - b log n``; the
    floor is chosen on a fine grid below the smallest loss to minimise the squared error of
    ``L`` itself. Returns ``a``, ``b``, ``c`` and the fit's root-mean-square error.
    """
    n, loss = np.asarray(n, dtype=float), np.asarray(loss, dtype=float)
    if len(n) < 3 or len(n) != len(loss) or (n <= 0).any() or (loss <= 0).any():
        raise ValueError("need at least 3 positive (n, loss) pairs")
    best = None
    for c in np.linspace(0, loss.min() * 0.999, 400):
        slope, intercept = np.polyfit(np.log(n), np.log(loss - c), 1)
        a, b = math.exp(intercept), -slope
        rmse = float(np.sqrt(np.mean((a * n ** -b + c - loss) ** 2)))
        if best is None or rmse < best["rmse"]:
            best = dict(a=a, b=b, c=float(c), rmse=rmse)
    return best


def power_law(n, a: float, b: float, c: float):
    return a * np.asarray(n, dtype=float) ** -b + c


# --------------------------------------------------------------------------- text
def clean_text(text: str, allowed: set[str] | None = None) -> str:
    """Normalise a text for training: Windows line ends to ``\\n``, tabs to spaces, trailing
    spaces dropped, runs of blank lines cut to one, and (if ``allowed`` is given) every
    paragraph holding a character outside ``allowed`` dropped whole."""
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    text = re.sub(r"[ ]+\n", "\n", text)
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]
    if allowed is not None:
        paragraphs = [p for p in paragraphs if set(p) <= allowed]
    return "\n\n".join(paragraphs) + "\n" if paragraphs else ""


# Pure-Python packages of the standard library whose function docstrings make the second corpus.
STDLIB = ("email", "http", "json", "logging", "urllib", "xml", "importlib", "asyncio",
          "concurrent", "unittest")


def function_docstrings(packages=STDLIB, limit: int | None = None) -> str:
    """The docstrings of the public functions and methods in ``packages`` of Python's own
    standard library (read with ``ast``, not imported), each headed by its name, as one
    string. A different domain from the book's corpus (scikit-learn's estimator classes):
    short, imperative notes about sockets, e-mail headers, loggers and event loops, in
    plain prose without numpydoc's ``Parameters`` tables."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in packages:
        path = root / name
        files = [path.with_suffix(".py")] if not path.is_dir() else sorted(
            p for p in path.rglob("*.py") if "test" not in p.parts and "tests" not in p.parts)
        for file in files:
            if not file.is_file():
                continue
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8", errors="replace"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                    doc = ast.get_docstring(node)
                    if doc and len(doc) > 40:
                        parts.append(f"{node.name}\n\n{doc.strip()}")
    if not parts:
        raise ValueError(f"no function docstrings found in {packages!r}")
    text = "\n\n".join(parts) + "\n"
    return text if limit is None else text[:limit]


def leak(train: str, test: str, fraction: float, copies: int = 1, seed: int = 0) -> tuple[str, str, str]:
    """Leak part of the test text into the training text, as a careless split does.

    A ``fraction`` of the test paragraphs, chosen at random, is appended ``copies`` times to
    ``train``. Returns ``(leaky_train, leaked, clean)``: the leaked test paragraphs and the
    ones that stayed unseen, so the two can be scored apart."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    paragraphs = [p.strip("\n") for p in test.split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        raise ValueError("the test text needs at least two paragraphs")
    rng = np.random.default_rng(seed)
    chosen = set(rng.permutation(len(paragraphs))[:max(1, round(fraction * len(paragraphs)))].tolist())
    leaked = "\n\n".join(p for i, p in enumerate(paragraphs) if i in chosen) + "\n"
    clean = "\n\n".join(p for i, p in enumerate(paragraphs) if i not in chosen) + "\n"
    return train + ("\n" + leaked) * copies, leaked, clean


class NGramLM:
    """A character model that counts: ``p(c | the previous k characters)``, interpolated
    down to shorter contexts (Witten & Bell, 1991, in its simplest "Dirichlet" form):

    ``p_k(c | h) = (N(h, c) + beta p_{k-1}(c | h')) / (N(h) + beta)``

    where ``h'`` drops the oldest character of ``h``, ``N`` counts occurrences in the training
    text, and ``p_0`` is uniform over the vocabulary. A long context remembers whole phrases
    of the training text: the model that makes leakage easy to see."""

    def __init__(self, order: int = 6, beta: float = 1.0):
        if not isinstance(order, int) or order < 1 or not beta > 0:
            raise ValueError(f"order must be a positive int and beta > 0, got {order!r}, {beta!r}")
        self.order, self.beta = order, beta
        self.counts: list[dict] = []
        self.chars: set[str] = set()

    def fit(self, text: str) -> "NGramLM":
        if not text:
            raise ValueError("cannot fit a language model to an empty text")
        self.chars = set(text)
        self.counts = []
        for k in range(self.order + 1):               # contexts of 0 .. order characters
            table: dict = {}
            for i in range(k, len(text)):
                row = table.setdefault(text[i - k:i], {})
                row[text[i]] = row.get(text[i], 0) + 1
            self.counts.append({h: (row, sum(row.values())) for h, row in table.items()})
        return self

    def prob(self, context: str, c: str) -> float:
        p = 1.0 / (len(self.chars) + 1)               # p_0: uniform (+1 for unseen characters)
        for k in range(self.order + 1):
            if k > len(context):
                break
            found = self.counts[k].get(context[len(context) - k:] if k else "")
            if found is None:
                break                                 # a longer context was never seen either
            row, total = found
            p = (row.get(c, 0) + self.beta * p) / (total + self.beta)
        return p

    def loss(self, text: str) -> float:
        """Cross-entropy in nats per character on ``text`` (each character given up to
        ``order`` characters before it)."""
        if len(text) < 2:
            raise ValueError("need a text of at least two characters")
        total = sum(-math.log(self.prob(text[max(0, i - self.order):i], text[i]))
                    for i in range(1, len(text)))
        return total / (len(text) - 1)
