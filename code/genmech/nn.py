"""Neural networks: the multilayer perceptron every chapter builds on.

The chapter *Neural networks and deep learning* reads this module, section by section:

1. **The neuron** — :data:`ACTIVATIONS`, :func:`activation_and_derivative`, the multilayer
   perceptron both as :func:`mlp` (an ``nn.Sequential``) and as :class:`MLP` (an
   ``nn.Module`` with a config dataclass, after nanoGPT's style), and parameter counting
   (:func:`count_parameters` measures, :func:`mlp_parameter_formula` derives).
2. **Universal approximation** (Cybenko, 1989; Hornik, Stinchcombe & White, 1989) —
   :func:`fit_1d` trains one hidden layer of a given width on a 1D function,
   :func:`relu_interpolant` *builds* such a network by hand, and :class:`WidthFit` is the
   live-or-recorded demo with width as its control.
3. **The network playground** (after Smilkov et al., 2017, TensorFlow Playground) —
   :class:`Playground`, a :class:`~genmech.live.Demo` on 2D datasets, whose
   :meth:`Playground.code` prints runnable PyTorch code for its configuration (the live
   view's "Show code" panel).
4. **Why depth** — :func:`sawtooth_network` (Telgarsky, 2016) and :func:`count_linear_pieces`.
5. **Generalization** — :func:`train_regression`, which records train and test loss
   with optional weight decay and dropout (Srivastava et al., 2014).
6. **"Inspired by the brain"** — :func:`perceptron` (Rosenblatt, 1958).

Training follows the gradient of a loss with an optimizer (Adam, Kingma & Ba, 2015);
*how* that works is the subject of the chapter on gradient descent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from .live import Choice, Demo, Slider
from .plotting import COLORS, compact

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "leaky_relu": lambda: nn.LeakyReLU(0.2), "gelu": nn.GELU}

# The same activations as PyTorch source, for the playground's "show code".
ACTIVATION_SOURCE = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()",
                     "leaky_relu": "nn.LeakyReLU(0.2)", "gelu": "nn.GELU()"}

# Optimizers the demos offer: Adam, or plain (full-batch) gradient descent, torch's SGD.
OPTIMIZERS = ("Adam", "SGD")
OPTIMIZER_SOURCE = {"Adam": "torch.optim.Adam", "SGD": "torch.optim.SGD"}


def _check_activation(name) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def _check_sizes(sizes) -> None:
    if len(sizes) < 2 or any((not isinstance(s, (int, np.integer))) or isinstance(s, bool) or s < 1
                             for s in sizes):
        raise ValueError(f"sizes must be two or more positive ints, got {sizes!r}")


# =========================================================================== 1. the neuron
def activation_and_derivative(name: str, x) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma(x), sigma'(x))`` for the activation ``name``; the derivative by autograd,
    the same mechanism that trains every network in the book."""
    _check_activation(name)
    x = torch.as_tensor(np.asarray(x, dtype=np.float64)).clone().requires_grad_(True)
    y = ACTIVATIONS[name]()(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    return y.detach().numpy(), grad.numpy()


def mlp(sizes: list[int], activation: str = "relu", out_activation: str | None = None) -> nn.Sequential:
    """A multilayer perceptron: ``Linear -> activation`` for each consecutive pair of ``sizes``.

    ``mlp([2, 16, 16, 1])`` maps 2 inputs through two hidden layers of 16 units to 1 output;
    the last layer has no activation unless ``out_activation`` names one.
    """
    _check_sizes(sizes)
    for name in (activation, out_activation):
        if name is not None:
            _check_activation(name)
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
        _check_sizes(config.sizes)
        _check_activation(config.activation)
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


def mlp_parameter_formula(sizes) -> int:
    """The derived count ``sum_l (n_{l-1} + 1) n_l``: a weight per input and a bias per unit."""
    _check_sizes(sizes)
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


SHOWN_UNITS = 16    # at most this many unit contributions are drawn (a fixed number of traces)


class WidthFit(Demo):
    """One hidden layer fitted to a 1D function: width is the control, the units are visible.

    Solid: the target and the network. Faint: each unit's contribution ``a_j sigma(w_j x + b_j)``;
    the network is their sum plus a constant.
    """

    title = "Universal approximation: one hidden layer, width as the control"
    params = (
        Slider("width", 1, 64, 8, integer=True, label="hidden units", restart=True),
        Choice("target", tuple(TARGETS), "wiggle"),
        Choice("activation", tuple(ACTIVATIONS), "relu"),
        Choice("optimizer", OPTIMIZERS, "Adam"),
        Slider("lr", 1e-4, 1.0, 0.01, log=True, label="learning rate"),
    )
    curves = ("loss",)
    log_curves = True

    def build(self):
        hp = self.hp
        self.fn = target(hp["target"])
        self.model = one_hidden_layer(hp["width"], hp["activation"])
        self.x = grid_1d(256)                                           # (256, 1)
        self.y = torch.as_tensor(self.fn(self.x.numpy()), dtype=torch.float32)
        self.opt = make_optimizer(hp["optimizer"], self.model.parameters(), hp["lr"], 0.0)

    def apply(self, changed):
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]

    def train_step(self):
        with np.errstate(over="ignore", invalid="ignore"):
            loss = ((self.model(self.x) - self.y) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def figure(self):
        fig = go.Figure()
        data = self.frame()
        for i in range(SHOWN_UNITS):
            fig.add_scatter(mode="lines", line=dict(color=COLORS[5], width=1), opacity=0.5,
                            name="one unit", legendgroup="units", showlegend=i == 0,
                            hoverinfo="skip", **data[i])
        fig.add_scatter(mode="lines", name="target", line=dict(color="black", width=2, dash="dot"),
                        **data[SHOWN_UNITS])
        fig.add_scatter(mode="lines", name="network", line=dict(color=COLORS[3], width=3),
                        **data[SHOWN_UNITS + 1])
        fig.update_layout(height=380, margin=dict(l=50, r=20, t=40, b=40), xaxis_title="x",
                          yaxis_title="y", yaxis_range=[-2.5, 2.5],
                          legend=dict(orientation="h", y=1.08))
        return fig

    def frame(self):
        x = self.x[::2]                                       # 128 points: enough to draw
        xs = compact(x.squeeze(1))
        parts = unit_contributions(self.model, x)[:SHOWN_UNITS]
        units = [dict(x=xs, y=compact(p)) for p in parts]
        units += [dict(x=[], y=[])] * (SHOWN_UNITS - len(units))
        with torch.no_grad():
            fit = self.model(x).squeeze(1)
        return units + [dict(x=xs, y=compact(self.y[::2].squeeze(1))), dict(x=xs, y=compact(fit))]


# =========================================================================== 3. the playground
SHOWN_HEATMAPS = 8       # hidden units drawn as small heatmaps
GRID, UNIT_GRID = 60, 24  # resolution of the decision heatmap and of each unit's heatmap
DEFAULT_STEPS = 400       # the playground's default run


@dataclass
class PlaygroundConfig:
    """Everything that defines a playground run; :meth:`Playground.code` prints it as PyTorch."""

    dataset: str = "spirals"   # one of genmech.data.CLASSIFICATION
    noise: float = 0.1         # noise level of the dataset
    n: int = 400               # points, half for training and half for testing
    depth: int = 2             # hidden layers
    width: int = 16            # units per hidden layer
    activation: str = "tanh"   # a key of ACTIVATIONS
    lr: float = 0.03           # learning rate
    optimizer: str = "Adam"    # "Adam" or "SGD" (full-batch gradient descent)
    weight_decay: float = 0.0  # L2 penalty coefficient, passed to the optimizer
    dropout: float = 0.0       # dropout probability after each hidden layer
    seed: int = 0              # seeds the data, the split and the initial weights


def playground_data(cfg: PlaygroundConfig):
    """``(X_train, y_train, X_test, y_test)`` tensors: half the points for each, labels as floats."""
    from .data import classification, train_test_split

    X, y = classification(cfg.dataset, n=cfg.n, noise=cfg.noise, seed=cfg.seed)
    Xtr, ytr, Xte, yte = train_test_split(X, y, test_fraction=0.5, seed=cfg.seed)
    return (torch.tensor(Xtr), torch.tensor(ytr, dtype=torch.float32),
            torch.tensor(Xte), torch.tensor(yte, dtype=torch.float32))


def to_bytes(values: torch.Tensor) -> np.ndarray:
    """Values in [0, 1] as bytes 0..255: a quarter of float32's page weight, invisible in a heatmap."""
    return (values.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def make_optimizer(name: str, params, lr: float, weight_decay: float):
    if name == "Adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of points on the right side of the boundary ``logit = 0``."""
    return ((logits > 0).float() == y).float().mean().item()


class Playground(Demo):
    """A network playground on 2D two-class data, after TensorFlow Playground (Smilkov et al., 2017).

    Left: the probability of class 1 over the plane (the decision boundary is where it is
    0.5), with training points (circles) and test points (crosses). Right: what single hidden
    units compute, as small heatmaps. Beside it: train and test loss. :meth:`code` returns
    runnable PyTorch code that reproduces the current configuration.
    """

    title = "Network playground"
    params = (
        Choice("dataset", ("spirals", "moons", "circles", "xor"), "spirals"),
        Slider("noise", 0.0, 0.5, 0.1, step=0.05, restart=True),
        Slider("depth", 1, 4, 2, integer=True, label="hidden layers", restart=True),
        Slider("width", 1, 32, 16, integer=True, label="units per layer", restart=True),
        Choice("activation", tuple(ACTIVATIONS), "tanh"),
        Slider("lr", 1e-4, 1.0, 0.03, log=True, label="learning rate"),
        Choice("optimizer", OPTIMIZERS, "Adam"),
        Choice("weight_decay", (0.0, 1e-4, 1e-3, 1e-2, 1e-1), 0.0, label="weight decay",
               restart=False),
        Slider("dropout", 0.0, 0.5, 0.0, step=0.05, restart=True),
        Choice("units", ("last hidden layer", "first hidden layer"), "last hidden layer",
               label="unit heatmaps", restart=False),
    )
    curves = ("train loss", "test loss")

    @property
    def config(self) -> PlaygroundConfig:
        hp = self.hp
        return PlaygroundConfig(dataset=hp["dataset"], noise=hp["noise"], depth=hp["depth"],
                                width=hp["width"], activation=hp["activation"], lr=hp["lr"],
                                optimizer=hp["optimizer"], weight_decay=hp["weight_decay"],
                                dropout=hp["dropout"], seed=self.seed)

    def build(self):
        cfg = self.config
        self.X_train, self.y_train, self.X_test, self.y_test = playground_data(cfg)
        sizes = (2,) + (cfg.width,) * cfg.depth + (1,)
        self.model = MLP(MLPConfig(sizes, cfg.activation, cfg.dropout))
        self.opt = make_optimizer(cfg.optimizer, self.model.parameters(), cfg.lr, cfg.weight_decay)
        self.loss_fn = nn.BCEWithLogitsLoss()
        r = 1.1 * float(torch.cat([self.X_train, self.X_test]).abs().max())
        self.axis = np.linspace(-r, r, GRID, dtype=np.float32)
        self.unit_axis = np.linspace(-r, r, UNIT_GRID, dtype=np.float32)

    def apply(self, changed):
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]
            group["weight_decay"] = self.hp["weight_decay"]

    def train_step(self):
        self.model.train()
        loss = self.loss_fn(self.model(self.X_train).squeeze(1), self.y_train)   # (N,) logits
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        # both losses measured alike: after the update, dropout off (the loss the optimizer
        # saw was taken before the update, with dropout on; it is not comparable)
        self.model.eval()
        with torch.no_grad():
            train_logits = self.model(self.X_train).squeeze(1)
            test_logits = self.model(self.X_test).squeeze(1)
            train_loss = self.loss_fn(train_logits, self.y_train).item()
            test_loss = self.loss_fn(test_logits, self.y_test).item()
        return {"train loss": train_loss, "test loss": test_loss,
                "train accuracy": accuracy(train_logits, self.y_train),
                "test accuracy": accuracy(test_logits, self.y_test)}

    def evaluate(self) -> dict:
        """Train and test accuracy of the model as it is now (dropout off)."""
        self.model.eval()
        with torch.no_grad():
            return {"train accuracy": accuracy(self.model(self.X_train).squeeze(1), self.y_train),
                    "test accuracy": accuracy(self.model(self.X_test).squeeze(1), self.y_test)}

    # -- the view
    def _grid(self, axis) -> torch.Tensor:
        gx, gy = np.meshgrid(axis, axis)
        return torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1))   # (G*G, 2)

    def figure(self):
        # the decision map spans two rows and two columns; eight unit maps fill a 2 x 4 block
        fig = make_subplots(rows=2, cols=6, specs=[[{"rowspan": 2, "colspan": 2}, None, {}, {}, {}, {}],
                                                   [None, None, {}, {}, {}, {}]],
                            horizontal_spacing=0.03, vertical_spacing=0.1,
                            column_widths=[0.25, 0.25, 0.125, 0.125, 0.125, 0.125])
        data = self.frame()
        fig.add_heatmap(colorscale="RdBu_r", zmin=0, zmax=255, showscale=False, hoverinfo="skip",
                        row=1, col=1, **data[0])
        for k, (symbol, name) in enumerate((("circle", "train"), ("x", "test"))):
            for c in (0, 1):
                fig.add_scatter(mode="markers", name=f"{name}, class {c}", showlegend=False,
                                marker=dict(symbol=symbol, size=5, color=COLORS[3] if c else COLORS[0],
                                            line=dict(width=0.6, color="white")),
                                hoverinfo="skip", row=1, col=1, **data[1 + 2 * k + c])
        for u in range(SHOWN_HEATMAPS):
            fig.add_heatmap(colorscale="PuOr", zmin=0, zmax=255, showscale=False, hoverinfo="skip",
                            row=1 + u // 4, col=3 + u % 4, **data[5 + u])
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
        fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
        fig.update_yaxes(scaleanchor="x", row=1, col=1)
        layer = "last" if self.hp["units"] == "last hidden layer" else "first"
        fig.update_layout(height=380, margin=dict(l=10, r=10, t=50, b=10),
                          title=dict(text=f"{self.hp['dataset']}: P(class 1)  |  "
                                          f"{layer} hidden layer, units 1–{SHOWN_HEATMAPS}",
                                     font=dict(size=14)))
        return fig

    def _unit_maps(self) -> list[np.ndarray]:
        self.model.eval()
        with torch.no_grad():
            states = self.model.hidden_states(self._grid(self.unit_axis))
        h = states[-1] if self.hp["units"] == "last hidden layer" else states[0]   # (g*g, width)
        lo, hi = h.min(0).values, h.max(0).values
        # each unit rescaled to its own range, so its pattern shows whatever its scale
        h = ((h - lo) / (hi - lo).clamp_min(1e-6)).T.reshape(-1, UNIT_GRID, UNIT_GRID)
        return [to_bytes(m) for m in h[:SHOWN_HEATMAPS]]

    def frame(self):
        self.model.eval()
        with torch.no_grad():
            p = torch.sigmoid(self.model(self._grid(self.axis))).reshape(GRID, GRID)   # (G, G)
        traces = [dict(x=self.axis, y=self.axis, z=to_bytes(p))]
        for X, y in ((self.X_train, self.y_train), (self.X_test, self.y_test)):
            for c in (0, 1):
                pts = X[y == c].numpy()
                traces.append(dict(x=compact(pts[:, 0]), y=compact(pts[:, 1])))
        maps = self._unit_maps()
        traces += [dict(x=self.unit_axis, y=self.unit_axis, z=m) for m in maps]
        traces += [dict(x=[], y=[], z=[])] * (SHOWN_HEATMAPS - len(maps))   # narrower than 8 units
        return traces

    # -- show code
    def code(self, steps: int | None = None) -> str:
        """Runnable PyTorch source that trains the current configuration from scratch for
        ``steps`` steps (default: as many as this demo has taken, else the default run) and
        prints its test accuracy. The same seed gives the same initial weights as the demo."""
        steps = steps if steps is not None else (self.steps or DEFAULT_STEPS)
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        cfg = self.config
        act = ACTIVATION_SOURCE[cfg.activation]
        drop = f" nn.Dropout({cfg.dropout:g})," if cfg.dropout > 0 else ""
        layers, a = [], 2
        for _ in range(cfg.depth):
            layers.append(f"    nn.Linear({a}, {cfg.width}), {act},{drop}")
            a = cfg.width
        layers.append(f"    nn.Linear({a}, 1),")
        layer_lines = "\n".join(layers)
        return f'''\
# Network playground: {cfg.dataset}, {cfg.depth} hidden layer(s) of {cfg.width} {cfg.activation} units.
import torch
from torch import nn
from genmech.data import classification, train_test_split

torch.manual_seed({cfg.seed})
X, y = classification("{cfg.dataset}", n={cfg.n}, noise={cfg.noise:g}, seed={cfg.seed})
X_train, y_train, X_test, y_test = train_test_split(X, y, test_fraction=0.5, seed={cfg.seed})
X_train, X_test = torch.tensor(X_train), torch.tensor(X_test)                  # (N, 2)
y_train = torch.tensor(y_train, dtype=torch.float32)                           # (N,) labels 0/1
y_test = torch.tensor(y_test, dtype=torch.float32)

model = nn.Sequential(
{layer_lines}
)
optimizer = {OPTIMIZER_SOURCE[cfg.optimizer]}(model.parameters(), lr={cfg.lr:.6g}, weight_decay={cfg.weight_decay:g})
loss_fn = nn.BCEWithLogitsLoss()            # binary cross-entropy on the logit

for step in range({steps}):
    model.train()
    loss = loss_fn(model(X_train).squeeze(1), y_train)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

model.eval()
with torch.no_grad():
    test_accuracy = ((model(X_test).squeeze(1) > 0).float() == y_test).float().mean().item()
print(f"test accuracy after {steps} steps: {{test_accuracy:.3f}}")
'''

    def show(self, steps: int = DEFAULT_STEPS, frames: int = 20):
        """As :meth:`Demo.show`, with the playground's default run length."""
        super().show(steps, frames)


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
