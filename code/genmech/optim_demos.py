"""The gradient-descent chapter's figures and demos: the views of :mod:`genmech.optim`.

* :func:`paths_figure` and :func:`learning_rate_figure` draw where an update rule went on
  a loss surface (:func:`contour_trace`, :func:`path_trace`);
* :class:`OptimizerRace`, the live-or-recorded demo that races GD, momentum, RMSProp and
  Adam (Kingma & Ba, 2015) side by side, and :func:`race_table`, the measured steps each
  needs on each surface;
* :class:`SGDvsAdam`, the demo that trains two copies of one network, one with SGD and
  one with Adam, on a 2D classification problem.

The surfaces, the update rules and stochastic gradients are in :mod:`genmech.optim`.
"""
from __future__ import annotations

import copy
from collections import deque

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import data, nets
from .live import Choice, Demo, Slider
from .nets import accuracy, decision_grid, set_learning_rate
from .optim import GD, SURFACES, Adam, Momentum, RMSProp, Surface, descend, get_surface
from .plotting import COLORS, compact


# --------------------------------------------------------------------------- figures
def path_trace(path: np.ndarray, name: str, color: str, **kw) -> go.Scatter:
    """One optimizer's path as a line with a dot per step (points beyond float32 dropped)."""
    path = np.asarray(path, dtype=np.float64)
    path = path[np.isfinite(path).all(axis=1) & (np.abs(path) < 1e30).all(axis=1)]
    return go.Scatter(x=compact(path[:, 0]), y=compact(path[:, 1]), mode="lines+markers",
                      name=name, line=dict(color=color, width=2), marker=dict(size=4), **kw)


def paths_figure(surface: Surface, paths: dict, title: str = "", height: int = 420,
                 n: int = 80) -> go.Figure:
    """The contours of ``surface`` with one path per entry of ``paths`` (name -> (steps, 2))."""
    fig = go.Figure(contour_trace(surface, n=n))
    for i, (name, path) in enumerate(paths.items()):
        fig.add_trace(path_trace(path, name, RULE_COLORS.get(name, COLORS[i % len(COLORS)])))
    for m in surface.minima:
        fig.add_scatter(x=[m[0]], y=[m[1]], mode="markers", showlegend=False, hoverinfo="skip",
                        marker=dict(symbol="star", size=13, color="white",
                                    line=dict(color="black", width=1)))
    fig.update_xaxes(range=surface.xlim, title="w₁")
    fig.update_yaxes(range=surface.ylim, title="w₂")
    fig.update_layout(title=title, height=height, margin=dict(l=50, r=20, t=50 if title else 20, b=50),
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=1.0, yanchor="bottom"))
    return fig


def learning_rate_figure(surface: Surface, lrs, start, steps: int = 30,
                         height: int = 460) -> go.Figure:
    """Gradient descent's path for each learning rate in ``lrs``, chosen with a slider."""
    lrs = [float(lr) for lr in lrs]
    if not lrs:
        raise ValueError("give at least one learning rate")
    with np.errstate(over="ignore", invalid="ignore"):
        paths = [descend(surface, GD(lr), start, steps) for lr in lrs]
    fig = paths_figure(surface, {f"GD, {steps} steps": paths[0]}, height=height)
    def data(path):
        t = path_trace(path, "", COLORS[0])
        return dict(type="scatter", x=t.x, y=t.y)
    fig.frames = [go.Frame(name=f"{lr:.3g}", traces=[1], data=[data(p)]) for lr, p in zip(lrs, paths)]
    fig.update_layout(height=height + 60, margin=dict(b=110), sliders=[dict(
        active=0, y=-0.18, x=0.05, len=0.9, currentvalue=dict(prefix="learning rate "),
        steps=[dict(method="animate", label=f"{lr:.3g}",
                    args=[[f"{lr:.3g}"], {"frame": {"duration": 0, "redraw": True},
                                           "mode": "immediate", "transition": {"duration": 0}}])
               for lr in lrs])])
    return fig


def contour_trace(surface: Surface, n: int = 80, showscale: bool = False) -> go.Contour:
    """The surface as filled contours (log-spaced where the loss spans many scales)."""
    xs, ys, Z = surface.grid(n)
    z = np.log10(Z + 1e-3) if surface.log_levels else Z
    return go.Contour(x=compact(xs), y=compact(ys), z=compact(z), colorscale="Blues",
                      reversescale=True, ncontours=25, showscale=showscale, hoverinfo="skip",
                      line=dict(width=0.5), name="loss" + (" (log10)" if surface.log_levels else ""))


# --------------------------------------------------------------------------- the race
RULES = ("GD", "Momentum", "RMSProp", "Adam")
# one colour per optimizer across the chapter (never the orange beside the vermillion)
RULE_COLORS = {"GD": COLORS[0], "SGD": COLORS[5], "Momentum": COLORS[1], "RMSProp": COLORS[2],
               "Adam": COLORS[4]}


PATH_POINTS = 2000
DRAWN_POINTS = 500   # points drawn per path and per loss curve


def _thinned(a: np.ndarray, n: int = DRAWN_POINTS) -> np.ndarray:
    """At most ``n`` rows of ``a``, evenly spaced, the first and the last kept: a long run
    draws as fast as a short one."""
    if len(a) <= n:
        return a
    return a[np.unique(np.linspace(0, len(a) - 1, n).round().astype(int))]


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
    curves = ()          # the figure draws every loss curve itself: no separate metric curve
    # divergence: a rule's loss a thousand times the start's (a path flung off the surface;
    # losses may rise for a while on the way down a valley, so the factor is generous)
    blowup = {name: 1000.0 for name in RULES}
    target = 1e-3        # a rule "arrives" at the first step its loss falls below this

    def build(self):
        hp = self.hp
        self.surface = get_surface(hp["surface"])
        self.rules = {"GD": GD(hp["lr"]), "Momentum": Momentum(hp["lr"], hp["momentum"]),
                      "RMSProp": RMSProp(hp["adaptive_lr"]), "Adam": Adam(hp["adaptive_lr"])}
        start = np.array(self.surface.start, dtype=np.float64)
        self.start_loss = self._loss(start)
        # the last PATH_POINTS points of each path: an hour of training stays bounded
        self.paths = {name: deque([start], maxlen=PATH_POINTS) for name in RULES}
        self.arrived = {name: None for name in RULES}   # first step with loss < target

    def _loss(self, w) -> float:
        return float(self.surface(torch.as_tensor(w)))

    def train_step(self):
        W = np.stack([self.paths[name][-1] for name in RULES])       # (4, 2): one row per rule
        with np.errstate(over="ignore", invalid="ignore"):
            G = self.surface.gradient(W)                             # (4, 2), one autograd call
            W = np.stack([self.rules[name].update(w, g) for name, w, g in zip(RULES, W, G)])
            losses = self.surface(torch.as_tensor(W)).tolist()       # (4,)
        metrics = {}
        for name, w, loss in zip(RULES, W, losses):
            self.paths[name].append(w)
            metrics[name] = loss
            if self.arrived[name] is None and loss < self.target:
                self.arrived[name] = self.steps + 1
        return metrics

    def run_until_arrived(self, max_steps: int) -> dict:
        """Train until every rule's loss is below ``target`` or ``max_steps`` have passed;
        returns :attr:`arrived` (``None`` for a rule that did not arrive)."""
        while self.steps < max_steps and not self.diverged and None in self.arrived.values():
            self.step(1)
        return dict(self.arrived)

    def figure(self):
        fig = make_subplots(rows=1, cols=2, column_widths=[0.58, 0.42],
                            subplot_titles=(f"{self.surface.name}: paths", "loss (log scale)"))
        fig.add_trace(contour_trace(self.surface), row=1, col=1)
        data = self.frame()
        for i, name in enumerate(RULES):
            fig.add_scatter(mode="lines+markers", name=name, legendgroup=name,
                            line=dict(color=RULE_COLORS[name], width=2), marker=dict(size=3),
                            row=1, col=1, **data[1 + i])
        for i, name in enumerate(RULES):
            fig.add_scatter(mode="lines", name=name, legendgroup=name, showlegend=False,
                            line=dict(color=RULE_COLORS[name], width=2), row=1, col=2,
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
        """The contour never changes (None); then one path per rule; then one loss curve
        each; then the minima's stars (None: fixed)."""
        paths, curves = [], []
        for name in RULES:
            p = np.array(self.paths[name])
            p = _thinned(p[np.isfinite(p).all(axis=1)])
            paths.append(dict(x=compact(p[:, 0]), y=compact(p[:, 1])))
            s = self.metrics.series.get(name)
            steps = _thinned(np.array([0] + (s.steps if s else [])))
            loss = _thinned(np.array([self.start_loss] + (s.values if s else [])))
            curves.append(dict(x=compact(steps), y=compact(np.maximum(loss, 1e-12))))
        return [None] + paths + curves + [None] * len(self.surface.minima)


# Hyperparameters for the race on each surface, chosen by hand so that every rule is stable
# from the surface's start (GD and momentum share one learning rate, RMSProp and Adam
# another). The race's results with them: race_table() and bench/bench_gradient_descent.py.
RACE_SETTINGS = {
    "bowl": dict(lr=0.1, momentum=0.9, adaptive_lr=0.1),
    "valley": dict(lr=0.15, momentum=0.9, adaptive_lr=0.1),
    "rosenbrock": dict(lr=1e-3, momentum=0.9, adaptive_lr=0.02),
    "himmelblau": dict(lr=0.01, momentum=0.9, adaptive_lr=0.1),
}


def race_table(max_steps: int = 2000, target: float = 1e-3, settings: dict | None = None) -> dict:
    """For each surface, the first step at which each rule's loss falls below ``target``
    (``None``: not within ``max_steps``), racing with :data:`RACE_SETTINGS`."""
    settings = settings or RACE_SETTINGS
    table = {}
    for name, hp in settings.items():
        race = OptimizerRace(surface=name, **hp)
        race.target = target
        table[name] = race.run_until_arrived(max_steps)
    return table


# --------------------------------------------------------------------------- SGD vs Adam on a network
class SGDvsAdam(Demo):
    """Two copies of one small network, with the same initial weights and the same
    mini-batches, trained on a 2D two-class dataset: one by SGD, one by Adam.

    Left and middle: each network's probability of class 1 over the plane (its decision
    boundary is where the colour changes), with the training points. Right: each
    network's loss on the whole training set. Metrics: ``SGD loss``, ``Adam loss`` (binary
    cross-entropy on the training set) and ``SGD accuracy``, ``Adam accuracy`` (on held-out
    test points)."""

    title = "SGD and Adam train the same network"
    params = (
        Choice("dataset", data.CLASSIFICATION, "moons"),
        Slider("sgd_lr", 1e-3, 3.0, 0.1, log=True, label="learning rate (SGD)"),
        Slider("adam_lr", 1e-4, 0.3, 0.01, log=True, label="learning rate (Adam)"),
        Slider("batch_size", 1, 256, 32, integer=True, label="batch size"),
    )
    curves = ()          # the figure draws both loss curves itself
    blowup = {"SGD loss": 10.0, "Adam loss": 10.0}   # ten times the untrained loss
    hidden = (32, 32)    # widths of the two tanh hidden layers
    n_points = 400       # dataset size, 30% of it held out for testing
    grid = 50            # the heatmaps are grid x grid probabilities
    lim = 2.0            # ... over the square [-lim, lim]^2

    def build(self):
        X, y = data.classification(self.hp["dataset"], n=self.n_points, seed=self.seed)
        Xtr, ytr, Xte, yte = data.train_test_split(X, y, 0.3, seed=self.seed)
        self.X, self.y = torch.as_tensor(Xtr), torch.as_tensor(ytr, dtype=torch.float32)  # (N, 2), (N,)
        self.X_test, self.y_test = torch.as_tensor(Xte), torch.as_tensor(yte, dtype=torch.float32)
        self.X_all = torch.cat([self.X, self.X_test])                           # (N + M, 2)
        net = nets.mlp([2, *self.hidden, 1], activation="tanh")   # seeded by reset()
        self.nets = {"SGD": net, "Adam": copy.deepcopy(net)}     # identical initial weights
        self.opts = {"SGD": torch.optim.SGD(self.nets["SGD"].parameters(), lr=self.hp["sgd_lr"]),
                     "Adam": torch.optim.Adam(self.nets["Adam"].parameters(), lr=self.hp["adam_lr"])}
        self.batches = torch.Generator().manual_seed(self.seed)  # both see the same mini-batches
        self.grid_points = decision_grid(torch.linspace(-self.lim, self.lim, self.grid))  # (grid^2, 2)

    def apply(self, changed):
        for name, key in (("SGD", "sgd_lr"), ("Adam", "adam_lr")):
            set_learning_rate(self.opts[name], self.hp[key])

    def train_step(self):
        idx = torch.randint(len(self.X), (self.hp["batch_size"],), generator=self.batches)
        metrics = {}
        for name, net in self.nets.items():
            logits = net(self.X[idx]).squeeze(1)                                  # (B,)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, self.y[idx])
            self.opts[name].zero_grad()
            loss.backward()
            self.opts[name].step()
            with torch.no_grad():   # one pass over training and test points together
                out = net(self.X_all).squeeze(1)                                  # (N + M,)
                train, test = out[:len(self.X)], out[len(self.X):]
                metrics[f"{name} loss"] = torch.nn.functional.binary_cross_entropy_with_logits(
                    train, self.y).item()
                metrics[f"{name} accuracy"] = accuracy(test, self.y_test)
        return metrics

    def accuracy(self, name: str) -> float:
        """The fraction of held-out test points that network ``name`` classifies correctly."""
        with torch.no_grad():
            return accuracy(self.nets[name](self.X_test).squeeze(1), self.y_test)

    def probabilities(self, name: str) -> np.ndarray:
        """Network ``name``'s P(class 1) on the grid, in percent, as bytes (a light page)."""
        with torch.no_grad():
            p = torch.sigmoid(self.nets[name](self.grid_points)).reshape(self.grid, self.grid)
        return (100 * p).round().numpy().astype(np.uint8)

    def figure(self):
        fig = make_subplots(rows=1, cols=3, column_widths=[0.33, 0.33, 0.34], horizontal_spacing=0.07,
                            subplot_titles=("SGD", "Adam", "training loss (log scale)"))
        g = compact(np.linspace(-self.lim, self.lim, self.grid))
        data_ = self.frame()
        X, y = self.X.numpy(), self.y.numpy()
        for col, name in enumerate(("SGD", "Adam"), start=1):
            fig.add_heatmap(x=g, y=g, zmin=0, zmax=100, showscale=False, row=1, col=col, zsmooth="best",
                            colorscale=[[0, "#8CBCE0"], [0.5, "#FFFFFF"], [1, "#E3B3CF"]],
                            hovertemplate="P(class 1) = %{z}%<extra></extra>", **data_[2 * col - 2])
            fig.add_scatter(x=compact(X[:, 0]), y=compact(X[:, 1]), mode="markers", showlegend=False,
                            hoverinfo="skip", row=1, col=col,
                            marker=dict(size=4, color=[COLORS[3] if c else COLORS[0] for c in y],
                                        line=dict(width=0.5, color="white")))
            fig.update_xaxes(range=[-self.lim, self.lim], row=1, col=col, showgrid=False)
            fig.update_yaxes(range=[-self.lim, self.lim], row=1, col=col, showgrid=False,
                             scaleanchor=f"x{col if col > 1 else ''}")
        for i, name in enumerate(("SGD", "Adam")):
            fig.add_scatter(mode="lines", name=name, line=dict(color=RULE_COLORS[name], width=2),
                            row=1, col=3, **data_[4 + i])
        fig.update_yaxes(type="log", row=1, col=3)
        fig.update_xaxes(title="step", row=1, col=3)
        fig.update_layout(height=360, margin=dict(l=40, r=20, t=50, b=40),
                          legend=dict(x=0.99, xanchor="right", y=0.98, yanchor="top",
                                      bgcolor="rgba(255,255,255,0.7)"))
        return fig

    def frame(self):
        """Both heatmaps; the training points never change (None); both loss curves."""
        curves = []
        for name in ("SGD", "Adam"):
            s = self.metrics.series.get(f"{name} loss")
            curves.append(dict(x=compact(s.steps if s else []), y=compact(s.values if s else [])))
        return [dict(z=self.probabilities("SGD")), None, dict(z=self.probabilities("Adam")), None,
                *curves]


# --------------------------------------------------------------------------- schedules, clipping, weight decay
def train_network(dataset: str = "moons", steps: int = 300, lr: float = 0.01, warmup: int = 0,
                  final_lr: float | None = None, max_norm: float | None = None,
                  weight_decay: float = 0.0, decoupled: bool = True, seed: int = 0) -> dict:
    """Train the network of :class:`SGDvsAdam` (same data, initial weights and mini-batches
    for a given ``seed``) with Adam, and the habits of :mod:`genmech.optim`: the learning
    rate :func:`~genmech.optim.warmup_cosine` from ``lr`` down to ``final_lr`` (``None``:
    ``lr``, a constant rate after the warm-up), gradients clipped to ``max_norm`` by
    :func:`~genmech.optim.clip_by_norm`, and weight decay, decoupled (AdamW) or as an L2
    penalty inside Adam. Returns per step ``lr``, ``loss`` (on the whole training set after
    the step), ``grad_norm`` (before clipping) and ``weight_norm``; then ``accuracy`` (test
    points), ``net`` and ``opt``."""
    from .optim import clip_by_norm, warmup_cosine
    demo = SGDvsAdam(dataset=dataset, seed=seed)
    net = demo.nets["Adam"]
    params = list(net.parameters())
    Adam = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = Adam(params, lr=lr, weight_decay=weight_decay)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    out = {key: [] for key in ("lr", "loss", "grad_norm", "weight_norm")}
    for t in range(steps):
        eta = warmup_cosine(t, steps, lr, warmup, lr if final_lr is None else final_lr)
        set_learning_rate(opt, eta)
        idx = torch.randint(len(demo.X), (32,), generator=demo.batches)
        loss = bce(net(demo.X[idx]).squeeze(1), demo.y[idx])
        opt.zero_grad()
        loss.backward()
        grads, norm = clip_by_norm([p.grad for p in params], max_norm or float("inf"))
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        with torch.no_grad():
            out["loss"].append(bce(net(demo.X).squeeze(1), demo.y).item())
            out["weight_norm"].append(sum(float((p**2).sum()) for p in params) ** 0.5)
        out["lr"].append(eta)
        out["grad_norm"].append(norm)
    return dict(out, accuracy=demo.accuracy("Adam"), net=net, opt=opt)


def effective_decay(opt: torch.optim.Adam) -> np.ndarray:
    """For Adam with an L2 penalty: the fraction of each weight that the penalty's gradient
    ``lambda w`` removes per step once Adam has divided it, ``lr lambda / (sqrt(s_hat) + eps)``,
    from the optimizer's state (one entry per number of the network)."""
    out = []
    for group in opt.param_groups:
        b1, b2 = group["betas"]
        for p in group["params"]:
            state = opt.state[p]
            s_hat = state["exp_avg_sq"] / (1 - b2 ** float(state["step"]))
            out.append((group["lr"] * group["weight_decay"] / (s_hat.sqrt() + group["eps"])).flatten())
    return torch.cat(out).numpy()


# four series of one kind: blue, green, pink, black (never the orange beside the vermillion)
RUN_COLORS = (COLORS[0], COLORS[2], COLORS[4], COLORS[7])


def runs_figure(runs: dict, left: str, right: str, left_title: str, right_title: str,
                log_right: bool = True, height: int = 340, alt: str = "") -> go.Figure:
    """Two panels of per-step curves from :func:`train_network` results: ``runs[name][left]``
    on the left and ``runs[name][right]`` on the right, one colour per run."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(left_title, right_title),
                        horizontal_spacing=0.12)
    for i, (name, run) in enumerate(runs.items()):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        for col, key in ((1, left), (2, right)):
            y = np.asarray(run[key], dtype=np.float64)
            fig.add_scatter(x=compact(np.arange(1, len(y) + 1)), y=compact(y), mode="lines",
                            name=name, legendgroup=name, showlegend=col == 1,
                            line=dict(color=color, width=2), row=1, col=col)
    fig.update_xaxes(title="step")
    if log_right:
        fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=40, b=40),
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.25, yanchor="top"))
    if alt:
        fig.update_layout(meta=dict(alt=alt))
    return fig


def decay_histogram(ratios: np.ndarray, height: int = 300) -> go.Figure:
    """A histogram (log10 bins) of how many times stronger than AdamW's the L2 penalty's pull
    is on each weight under Adam, ``1 / (sqrt(s_hat) + eps)``."""
    fig = go.Figure(go.Histogram(x=compact(np.log10(ratios)), nbinsx=40, name="weights",
                                 marker=dict(color=COLORS[0])))
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=30, b=50), showlegend=False,
                      xaxis_title="log₁₀ (pull of L2 in Adam / pull of AdamW)",
                      yaxis_title="weights")
    return fig
