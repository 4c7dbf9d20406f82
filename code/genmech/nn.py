"""Neural networks: the multilayer perceptron every chapter builds on.

The chapter *Neural networks and deep learning* reads this module, section by section:

1. **The neuron** — :func:`activation_and_derivative`, and parameter counting derived
   (:func:`mlp_parameter_formula`; :func:`genmech.nets.count_parameters` measures). The
   multilayer perceptron itself, :func:`genmech.nets.mlp` (an ``nn.Sequential``) and
   :class:`genmech.nets.MLP` (an ``nn.Module`` with a config dataclass, after nanoGPT's
   style), lives in :mod:`genmech.nets`, shared by every chapter.
2. **Universal approximation** (Cybenko, 1989; Hornik, Stinchcombe & White, 1989) —
   :func:`gradient_descent` (training in one page: a loss, its gradient, a step downhill),
   :func:`fit_1d` trains one hidden layer of a given width on a 1D function, and
   :func:`relu_interpolant` *builds* such a network by hand.
3. **The network playground** (after Smilkov et al., 2017, TensorFlow Playground) — a demo,
   in :mod:`genmech.nn_demos`.
4. **Why depth** — :func:`sawtooth_network` (Telgarsky, 2016) and :func:`count_linear_pieces`.
5. **Generalization** — :func:`train_regression`, which records train and test loss
   with optional weight decay and dropout (Srivastava et al., 2014).
6. **"Inspired by the brain"** — :func:`perceptron` (Rosenblatt, 1958).
7. **Building blocks** and 8. **Convolutions** — initialisation, normalisation, softmax and
   convolution, in :mod:`genmech.blocks`.

Training follows the gradient of a loss with an optimizer (Adam, Kingma & Ba, 2015);
*how* that works is the subject of the chapter on gradient descent. The demos of this
chapter (:class:`~genmech.nn_demos.WidthFit`, :class:`~genmech.nn_demos.Playground`) and
their figures are in :mod:`genmech.nn_demos`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .nets import (ACTIVATIONS, MLP, MLPConfig, accuracy, check_activation, check_sizes,
                   count_parameters, mlp)


# =========================================================================== 1. the neuron
def activation_and_derivative(name: str, x) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma(x), sigma'(x))`` for the activation ``name``; the derivative by autograd,
    the same mechanism that trains every network in the book."""
    check_activation(name)
    x = torch.as_tensor(np.asarray(x, dtype=np.float64)).clone().requires_grad_(True)
    y = ACTIVATIONS[name]()(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    return y.detach().numpy(), grad.numpy()


def mlp_parameter_formula(sizes) -> int:
    """The derived count ``sum_l (n_{l-1} + 1) n_l``: a weight per input and a bias per unit."""
    check_sizes(sizes)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def equal_budget_width(depth: int, budget: int, n_in: int = 2, n_out: int = 1) -> int:
    """The hidden width at which ``depth`` equal hidden layers use about ``budget`` parameters.

    Solves ``(n_in + 1) w + (depth - 1) (w + 1) w + (w + 1) n_out = budget`` for ``w``.
    """
    if depth < 1 or budget < 1:
        raise ValueError(f"depth and budget must be positive, got {depth}, {budget}")
    a, b, c = depth - 1, (n_in + 1) + (depth - 1) + n_out, n_out - budget
    w = -c / b if a == 0 else (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return max(1, int(round(w)))


# =========================================================================== 2. universal approximation
TARGETS = {
    "wiggle": lambda x: np.sin(3 * x) + 0.3 * x**2,
    "step": lambda x: np.where(x > 0, 1.0, -1.0) + 0.0 * x,
    "bumps": lambda x: np.exp(-4 * (x - 1) ** 2) - np.exp(-8 * (x + 1) ** 2) + 0.2 * np.sin(6 * x),
}
DOMAIN = (-2.0, 2.0)


def target(name: str):
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")
    return TARGETS[name]


def one_hidden_layer(width: int, activation: str = "relu") -> nn.Sequential:
    """``x -> sum_j a_j sigma(w_j x + b_j) + c``: one hidden layer of ``width`` units, 1D in and out."""
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    return mlp([1, int(width), 1], activation)


def grid_1d(n: int = 256) -> torch.Tensor:
    return torch.linspace(*DOMAIN, n).unsqueeze(1)   # (n, 1)


def rms_error(model: nn.Module, fn, n: int = 1000) -> float:
    """Root-mean-square distance between ``model`` and ``fn`` on a fine grid of the domain."""
    x = grid_1d(n)
    with torch.no_grad():
        y = model(x).squeeze(1).numpy()
    return float(np.sqrt(np.mean((y - fn(x.squeeze(1).numpy())) ** 2)))


def gradient_descent(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
                     lr: float) -> np.ndarray:
    """Plain gradient descent on the mean squared error; returns the loss before every step.

    The whole of training: a loss, its gradient (``loss.backward()``), a step downhill.
    """
    if lr <= 0 or steps < 1:
        raise ValueError(f"need lr > 0 and steps >= 1, got lr={lr}, steps={steps}")
    losses = []
    for _ in range(steps):
        loss = ((model(x) - y) ** 2).mean()        # L(theta)
        model.zero_grad()
        loss.backward()                            # every dL/dtheta_i, by the chain rule
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad                   # theta <- theta - eta * grad L(theta)
        losses.append(loss.item())
    return np.array(losses)


def fit_widths(widths, fn="wiggle", steps: int = 1500, lr: float = 0.02, activation: str = "relu",
               seed: int = 0) -> list[tuple[nn.Sequential, float]]:
    """Train one network of one hidden layer per width in ``widths`` on ``fn`` (256 exact samples
    of the domain) with Adam on the mean squared error; returns ``(model, rms error)`` per width,
    the error measured on a finer grid.

    Every network starts from ``torch.manual_seed(seed)``. They are trained together, on the
    *sum* of their losses, only for speed: each loss depends on its own network's parameters
    alone, so each gradient is the one it would get alone, and Adam treats every number
    separately. The result is the same as training them one after the other.
    """
    fn = target(fn) if isinstance(fn, str) else fn
    models = []
    for width in widths:
        torch.manual_seed(seed)
        models.append(one_hidden_layer(width, activation))
    together = SideBySide(models)
    x = grid_1d(256)                                                    # (256, 1)
    y = torch.as_tensor(fn(x.numpy()), dtype=torch.float32)             # (256, 1)
    opt = torch.optim.Adam(together.parameters(), lr=lr)
    for _ in range(steps):
        loss = ((together(x) - y) ** 2).mean(0).sum()                   # sum of K mean squared errors
        opt.zero_grad()
        loss.backward()
        opt.step()
    models = together.unpack()
    return [(m, rms_error(m, fn)) for m in models]


class SideBySide(nn.Module):
    """K one-hidden-layer networks of any widths, run as one wide layer (fewer, larger tensor
    operations: on a CPU this is several times faster than K small networks).

    Unit ``u`` belongs to network ``owner[u]``; network ``k`` outputs
    ``c_k + sum_{u in k} a_u sigma(w_u x + b_u)``, exactly as it would alone.
    """

    def __init__(self, models: list[nn.Sequential]):
        super().__init__()
        self.widths = [m[0].out_features for m in models]
        self.activation = models[0][1]
        self.w = nn.Parameter(torch.cat([m[0].weight.detach()[:, 0] for m in models]))   # (U,)
        self.b = nn.Parameter(torch.cat([m[0].bias.detach() for m in models]))           # (U,)
        self.a = nn.Parameter(torch.cat([m[2].weight.detach()[0] for m in models]))      # (U,)
        self.c = nn.Parameter(torch.cat([m[2].bias.detach() for m in models]))           # (K,)
        owner = torch.repeat_interleave(torch.arange(len(models)), torch.tensor(self.widths))
        self.register_buffer("owner", nn.functional.one_hot(owner).float())             # (U, K)
        self.models = models

    def forward(self, x: torch.Tensor) -> torch.Tensor:    # (N, 1) -> (N, K)
        h = self.activation(x * self.w + self.b)           # (N, U)
        return (h * self.a) @ self.owner + self.c

    def unpack(self) -> list[nn.Sequential]:
        """Copy the trained numbers back into the K separate networks."""
        start = 0
        with torch.no_grad():
            for k, (m, width) in enumerate(zip(self.models, self.widths)):
                units = slice(start, start + width)
                m[0].weight.copy_(self.w[units].unsqueeze(1))
                m[0].bias.copy_(self.b[units])
                m[2].weight.copy_(self.a[units].unsqueeze(0))
                m[2].bias.copy_(self.c[k:k + 1])
                start += width
        return self.models


def fit_1d(width: int, fn="wiggle", steps: int = 1500, lr: float = 0.02, activation: str = "relu",
           seed: int = 0) -> tuple[nn.Sequential, float]:
    """One network of ``width`` hidden units fitted to ``fn``: ``(model, rms error)``."""
    return fit_widths([width], fn, steps, lr, activation, seed)[0]


def relu_interpolant(fn, knots) -> nn.Sequential:
    """A one-hidden-layer ReLU network *built by hand* that joins the points ``(t_k, fn(t_k))``
    by straight lines: ``g(x) = fn(t_0) + s_0 (x - t_0) + sum_k (s_k - s_{k-1}) relu(x - t_k)``.

    It has one unit per knot (``len(knots)`` units), proving that width ``N`` can achieve the
    error of piecewise-linear interpolation with ``N`` pieces.
    """
    fn = target(fn) if isinstance(fn, str) else fn
    t = np.asarray(knots, dtype=np.float64)
    if t.ndim != 1 or len(t) < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("knots must be an increasing 1D sequence of at least two numbers")
    v = fn(t)
    s = np.diff(v) / np.diff(t)                         # slope of each of the N-1 pieces
    kinks = np.concatenate([[s[0]], np.diff(s)])       # slope change at t_0 ... t_{N-2}
    model = one_hidden_layer(len(t) - 1)
    with torch.no_grad():
        model[0].weight.fill_(1.0)                       # unit k computes relu(x - t_k)
        model[0].bias.copy_(torch.as_tensor(-t[:-1]))
        model[2].weight.copy_(torch.as_tensor(kinks).unsqueeze(0))
        model[2].bias.fill_(float(v[0]))
    # left of t_0 every unit is off and g = fn(t_0); the domain starts at t_0 so this is exact there
    return model


def unit_contributions(model: nn.Sequential, x: torch.Tensor) -> np.ndarray:
    """``a_j sigma(w_j x + b_j)`` of each hidden unit of a one-hidden-layer network: ``(width, N)``."""
    with torch.no_grad():
        h = model[1](model[0](x))                       # (N, width)
        return (h * model[2].weight[0]).T.numpy()       # (width, N)


# =========================================================================== 3. the playground: see nn_demos
# =========================================================================== 4. why depth
def tent_layer() -> nn.Sequential:
    """The tent map ``t(x) = 2 relu(x) - 4 relu(x - 1/2)`` on [0, 1] as a width-2 ReLU layer."""
    layer = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        layer[0].weight.copy_(torch.tensor([[1.0], [1.0]]))
        layer[0].bias.copy_(torch.tensor([0.0, -0.5]))
        layer[2].weight.copy_(torch.tensor([[2.0, -4.0]]))
        layer[2].bias.zero_()
    return layer


def sawtooth_network(k: int) -> nn.Sequential:
    """``t o t o ... o t`` (``k`` times): a depth-``k``, width-2 ReLU network whose graph on
    [0, 1] is a sawtooth with ``2**k`` linear pieces (Telgarsky, 2016)."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    return nn.Sequential(*[tent_layer() for _ in range(k)])


def count_linear_pieces(f, lo: float = 0.0, hi: float = 1.0, n: int = 20001, tol: float = 1e-3) -> int:
    """Count the linear pieces of a 1D piecewise-linear function by where its slope changes
    on a fine grid (an estimate: pieces narrower than the grid spacing are missed)."""
    import copy

    x = torch.linspace(lo, hi, n, dtype=torch.float64).unsqueeze(1)   # (n, 1)
    if isinstance(f, nn.Module):
        f = copy.deepcopy(f).double()       # float64: rounding must not look like a kink
    with torch.no_grad():
        y = f(x).double().squeeze(1).numpy()
    slopes = np.diff(y) / np.diff(x.squeeze(1).numpy())
    changes = np.abs(np.diff(slopes)) > tol * max(1.0, np.abs(slopes).max())
    # one kink can straddle two grid cells: count runs of changes, not changes
    starts = changes & ~np.concatenate([[False], changes[:-1]])
    return int(starts.sum()) + 1


def spiral_task(turns: float = 3.0, n: int = 600, noise: float = 0.1, seed: int = 0):
    """Two spirals of ``turns`` turns (harder than the playground's 1.5), split in half:
    ``(X_train, y_train, X_test, y_test)`` tensors, labels as floats."""
    from .data import spirals, train_test_split

    X, y = spirals(n, noise, turns=turns, seed=seed)
    Xtr, ytr, Xte, yte = train_test_split(X, y, test_fraction=0.5, seed=seed)
    return (torch.tensor(Xtr), torch.tensor(ytr, dtype=torch.float32),
            torch.tensor(Xte), torch.tensor(yte, dtype=torch.float32))


def train_classifier(sizes, data, steps: int = 500, lr: float = 0.01, activation: str = "relu",
                     seed: int = 0) -> dict:
    """Train ``MLP(sizes)`` on ``data = (X_train, y_train, X_test, y_test)`` with Adam, full
    batch, binary cross-entropy; returns the model, its parameter count, final train loss and
    train and test accuracy."""
    Xtr, ytr, Xte, yte = data
    torch.manual_seed(seed)
    model = MLP(MLPConfig(tuple(sizes), activation))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(steps):
        loss = loss_fn(model(Xtr).squeeze(1), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return {"model": model, "parameters": count_parameters(model), "train loss": loss.item(),
                "train accuracy": accuracy(model(Xtr).squeeze(1), ytr),
                "test accuracy": accuracy(model(Xte).squeeze(1), yte)}


# =========================================================================== 5. generalization
def noisy_sine(n: int, noise: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points ``(x, sin(pi x) + noise * eps)`` with ``x`` uniform in [-1, 1]; shapes (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 1))
    y = np.sin(np.pi * x) + noise * rng.normal(size=(n, 1))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def train_regression(data, sizes=(1, 64, 64, 1), steps: int = 1000, lr: float = 0.01,
                     weight_decay: float = 0.0, dropout: float = 0.0, activation: str = "relu",
                     seed: int = 0) -> dict:
    """Train an MLP on ``data = (x_train, y_train, x_test, y_test[, x_val, y_val])`` with Adam on
    the mean squared error, recording the losses after every step.

    Returns ``{"model", "train", "test"}`` (and ``"val"`` when validation data are given): the
    trained model and arrays of ``steps`` losses, measured with dropout off so that they compare.
    Early stopping picks its step on the validation curve, never on the test curve.
    """
    if len(data) not in (4, 6):
        raise ValueError("data must be (x_train, y_train, x_test, y_test[, x_val, y_val])")
    x_train, y_train = data[0], data[1]
    watched = {"train": data[0:2], "test": data[2:4]}
    if len(data) == 6:
        watched["val"] = data[4:6]
    torch.manual_seed(seed)
    model = MLP(MLPConfig(tuple(sizes), activation, dropout))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    curves = {name: np.empty(steps) for name in watched}
    for i in range(steps):
        model.train()
        loss = ((model(x_train) - y_train) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            for name, (x, y) in watched.items():
                curves[name][i] = ((model(x) - y) ** 2).mean().item()
    return {"model": model, **curves}


# =========================================================================== 6. the perceptron
def perceptron(X, y, epochs: int = 20) -> tuple[np.ndarray, float, list[int]]:
    """Rosenblatt's (1958) learning rule: for each misclassified point, ``w <- w + y x``
    (labels +-1, a constant 1 appended to ``x`` for the bias). No gradients, no loss.

    Returns ``(w, b, mistakes per epoch)``; mistakes reach 0 exactly when the data are
    linearly separable (and the rule has had enough epochs).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError("X must be (n, d) and y must have n labels")
    if not set(np.unique(y)) <= {-1, 1}:
        raise ValueError("labels must be -1 or +1")
    Xb = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(Xb.shape[1])
    history = []
    for _ in range(epochs):
        mistakes = 0
        for xi, yi in zip(Xb, y):
            if yi * (w @ xi) <= 0:
                w += yi * xi
                mistakes += 1
        history.append(mistakes)
    return w[:-1], float(w[-1]), history
