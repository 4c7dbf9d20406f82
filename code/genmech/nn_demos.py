"""The neural-network chapter's demos and figures: the views of :mod:`genmech.nn`.

* :class:`WidthFit` — universal approximation (Cybenko, 1989; Hornik, Stinchcombe &
  White, 1989) live or recorded: one hidden layer fitted to a 1D function, width as the
  control, each unit's contribution drawn;
* :class:`Playground` — a network playground on 2D datasets, after TensorFlow Playground
  (Smilkov et al., 2017), whose :meth:`Playground.code` prints runnable PyTorch code for
  its configuration (the live view's "Show code" panel);
* the figures of the sections *Building blocks* and *Convolutions* (models in
  :mod:`genmech.blocks`): :func:`init_scales_figure`, :func:`norm_losses_figure`,
  :func:`feature_maps_figure`.

The networks, their training and the chapter's math are in :mod:`genmech.nn` and
:mod:`genmech.nets`; this module adds plotly and the live framework (:mod:`genmech.live`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from .live import Choice, Demo, Slider
from .nets import (ACTIVATIONS, MLP, OPTIMIZERS, MLPConfig, accuracy, decision_grid,
                   make_optimizer, set_learning_rate)
from .nn import TARGETS, grid_1d, one_hidden_layer, target, unit_contributions
from .plotting import COLORS, compact


# The same activations as PyTorch source, for the playground's "show code".
ACTIVATION_SOURCE = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()",
                     "leaky_relu": "nn.LeakyReLU(0.2)", "gelu": "nn.GELU()"}


OPTIMIZER_SOURCE = {"Adam": "torch.optim.Adam", "SGD": "torch.optim.SGD"}


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
    blowup = {"loss": 10.0}        # ten times the untrained network's error: overshooting

    def build(self):
        hp = self.hp
        self.fn = target(hp["target"])
        self.model = one_hidden_layer(hp["width"], hp["activation"])
        self.x = grid_1d(256)                                           # (256, 1)
        self.y = torch.as_tensor(self.fn(self.x.numpy()), dtype=torch.float32)
        self.opt = make_optimizer(hp["optimizer"], self.model.parameters(), hp["lr"], 0.0)

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])

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
            fig.add_scatter(mode="lines", line=dict(color=COLORS[5], width=1.5), opacity=0.8,
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
    blowup = {"train loss": 10.0}  # ten times the untrained network's loss: overshooting

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
        set_learning_rate(self.opt, self.hp["lr"], weight_decay=self.hp["weight_decay"])

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
            states = self.model.hidden_states(decision_grid(self.unit_axis))
        h = states[-1] if self.hp["units"] == "last hidden layer" else states[0]   # (g*g, width)
        lo, hi = h.min(0).values, h.max(0).values
        # each unit rescaled to its own range, so its pattern shows whatever its scale
        h = ((h - lo) / (hi - lo).clamp_min(1e-6)).T.reshape(-1, UNIT_GRID, UNIT_GRID)
        return [to_bytes(m) for m in h[:SHOWN_HEATMAPS]]

    def frame(self):
        self.model.eval()
        with torch.no_grad():
            p = torch.sigmoid(self.model(decision_grid(self.axis))).reshape(GRID, GRID)   # (G, G)
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


# =========================================================================== building blocks and convolutions
INIT_STYLES = {"small": (COLORS[2], "dot"), "xavier": (COLORS[0], "solid"), "he": (COLORS[3], "dash")}


def init_scales_figure(scales: dict) -> go.Figure:
    """Std of activations (top) and gradients (bottom) per layer; ``scales[(activation, init)]``
    is the pair of lists :func:`genmech.blocks.layer_scales` returns."""
    acts = list(dict.fromkeys(a for a, _ in scales))
    fig = make_subplots(rows=2, cols=len(acts), shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=[f"{a}: {what}" for what in ("activations", "gradients") for a in acts])
    for col, act in enumerate(acts, start=1):
        for (a, init), pair in scales.items():
            if a != act:
                continue
            color, dash = INIT_STYLES[init]
            for row in (1, 2):
                layers = list(range(1, len(pair[row - 1]) + 1))
                fig.add_scatter(x=layers, y=pair[row - 1], mode="lines+markers", name=init, legendgroup=init,
                                showlegend=(row == 1 and col == 1), line=dict(color=color, dash=dash, width=2),
                                marker=dict(size=4), row=row, col=col)
    fig.update_yaxes(type="log", exponentformat="power", dtick=5)
    fig.update_yaxes(title="std", col=1)
    fig.update_xaxes(title="layer", row=2)
    fig.update_layout(height=520, margin=dict(l=60, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.15),
                      meta=dict(alt="Standard deviation of activations (top) and gradients (bottom) per layer "
                                    "of a deep network, log scale, under small, Xavier and He initialisation. "
                                    "Small init collapses by many orders of magnitude; Xavier stays nearly level "
                                    "for tanh but shrinks steadily for ReLU; He stays level for ReLU."))
    return fig


NORM_STYLES = {"none": ("no normalisation", COLORS[2], "dot"), "batch": ("batch norm", COLORS[0], "solid"),
               "layer": ("layer norm", COLORS[3], "dash")}


def norm_losses_figure(runs: dict, titles: dict, window: int = 20) -> go.Figure:
    """Training loss (mean over ``window`` steps) per optimizer and normalisation;
    ``runs[(optimizer, norm)]`` is what :func:`genmech.blocks.fit_digits` returns."""
    opts = list(dict.fromkeys(o for o, _ in runs))
    fig = make_subplots(rows=1, cols=len(opts), shared_yaxes=True, subplot_titles=[titles[o] for o in opts])
    for col, opt in enumerate(opts, start=1):
        for norm, (name, color, dash) in NORM_STYLES.items():
            if (opt, norm) not in runs:
                continue
            loss = np.convolve(runs[opt, norm]["loss"].numpy(), np.ones(window) / window, mode="valid")
            fig.add_scatter(x=np.arange(window, window + len(loss)), y=loss, name=name, legendgroup=norm,
                            showlegend=col == 1, line=dict(color=color, dash=dash, width=2.5), row=1, col=col)
    fig.add_hline(y=float(np.log(10)), line=dict(color="gray", dash="dot", width=1))
    fig.update_yaxes(title="training loss", col=1)
    fig.update_xaxes(title="step")
    fig.update_layout(height=360, margin=dict(l=60, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.25),
                      meta=dict(alt="Training loss (running mean) of a 20-layer ReLU network on the digits, "
                                    "plain, with batch norm and with layer norm; the grey line is log 10, "
                                    "the loss of guessing. With gradient descent the plain network stays near "
                                    "it, batch norm falls fastest and layer norm far less; with Adam all three fall."))
    return fig


def feature_maps_figure(image: torch.Tensor, maps: torch.Tensor, titles: list[str]) -> go.Figure:
    """An 8 x 8 image (grey) beside its feature maps (red positive, blue negative), row 0 on top."""
    fig = make_subplots(rows=1, cols=1 + len(maps), horizontal_spacing=0.05, subplot_titles=titles)
    fig.add_heatmap(z=image.flip(0), colorscale="Greys", showscale=False, hoverinfo="skip", row=1, col=1)
    for col, m in enumerate(maps, start=2):
        fig.add_heatmap(z=m.flip(0), colorscale="RdBu_r", zmid=0, showscale=False, row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for col in range(1, 2 + len(maps)):
        fig.update_yaxes(scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col)
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10),
                      meta=dict(alt="A digit and the outputs of edge filters slid over it: red and blue where "
                                    "the strokes have edges of that direction, white on flat regions."))
    return fig
