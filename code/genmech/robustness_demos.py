"""The challenges chapter's robustness and explainability demos (genmech.robustness_demos):
the views of :mod:`genmech.attacks` (FGSM, PGD, adversarial training, fooling images, the
VAE latent attack) and :mod:`genmech.explain` (saliency, gradient x input, integrated
gradients, the randomization sanity check), on the book's digit classifier
(:func:`genmech.digits.trained_classifier`, "the judge").

* :class:`EpsilonExplorer`: pick a test digit and a radius eps; each step is one iteration
  of the attack; the figure shows the clean digit, the perturbation magnified, the attacked
  digit and both predictions.
* :class:`AdversarialTraining`: a fresh classifier trained on attacked batches, with its
  clean and robust test accuracy measured as it learns.
* :class:`IGExplorer`: integrated gradients of one digit for a chosen baseline; each step
  adds one point to the path integral, and the completeness gap shrinks.

The figures of the two sections are functions below (:func:`accuracy_figure`, ...).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from . import attacks, explain
from . import digits as gdigits
from .live import Choice, Demo, Slider
from .plotting import COLORS, compact

SIDE = gdigits.SIDE
CLASSES = [str(c) for c in range(10)]


def _img(v) -> np.ndarray:
    """One image (64,) as an 8 x 8 array, rows flipped for a heatmap (row 0 at the top)."""
    return compact(np.asarray(torch.as_tensor(v).detach(), dtype=np.float32).reshape(SIDE, SIDE)[::-1])


def _square(fig, n_axes: int) -> None:
    """Square pixels in the first ``n_axes`` subplots, no axes drawn."""
    for i in range(1, n_axes + 1):
        suffix = "" if i == 1 else str(i)
        fig.layout[f"xaxis{suffix}"].update(visible=False, scaleanchor=f"y{suffix}", constrain="domain")
        fig.layout[f"yaxis{suffix}"].update(visible=False, constrain="domain")


def test_digit(index: int) -> tuple[torch.Tensor, int]:
    """Test digit number ``index`` of :func:`genmech.digits.load` and its label."""
    _, _, X, y = gdigits.load()
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(X):
        raise ValueError(f"digit must be a whole number from 0 to {len(X) - 1}, got {index!r}")
    return X[index], int(y[index])


# --------------------------------------------------------------------------- the eps explorer
class EpsilonExplorer(Demo):
    """An adversarial attack on one test digit, one iteration per step.

    FGSM is a single step from the clean digit, so its further steps change nothing; PGD
    takes signed steps of size eps / 4 and projects back onto the eps-ball after each. A
    change of eps or of the attack recomputes the same number of iterations at once, so
    dragging eps shows its effect immediately."""

    title = "The epsilon explorer"
    params = (
        Slider("digit", 0, 359, 49, integer=True, label="test digit", restart=True),   # 49: a 6 that PGD turns into a 4 at eps = 0.1
        Choice("attack", ("PGD", "FGSM"), "PGD", restart=False),
        Slider("eps", 0.0, 0.5, 0.1, step=0.01, label="epsilon (largest change per pixel)"),
    )
    curves = ("p_true", "confidence")
    blowup = {}   # nothing to diverge: the image stays in the eps-ball by construction
    MAX_REPLAY = 50   # iterations recomputed when eps or the attack changes

    def build(self):
        self.model = gdigits.trained_classifier()
        x, label = test_digit(self.hp["digit"])
        self.x, self.label = x[None], torch.tensor([label])
        self.x_adv = self.x.clone()
        self.iterations = 0

    def _iterate(self) -> None:
        eps = self.hp["eps"]
        if self.hp["attack"] == "FGSM":
            self.x_adv = attacks.fgsm(self.model, self.x, self.label, eps)
        else:
            grad = attacks.loss_gradient(self.model, self.x_adv, self.label)
            self.x_adv = attacks.project(self.x_adv + eps / 4 * grad.sign(), self.x, eps)
        self.iterations += 1

    def apply(self, changed):
        n = min(self.iterations, self.MAX_REPLAY)
        self.x_adv, self.iterations = self.x.clone(), 0
        for _ in range(n):
            self._iterate()

    def probabilities(self, x) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self.model(x), dim=1)[0].numpy()

    def train_step(self):
        self._iterate()
        p = self.probabilities(self.x_adv)
        return {"p_true": float(p[self.label.item()]), "confidence": float(p.max())}

    def note(self) -> str:
        p = self.probabilities(self.x_adv)
        pred = int(p.argmax())
        verdict = "still right" if pred == self.label.item() else "fooled"
        return (f"true label {self.label.item()}; after {self.iterations} {self.hp['attack']} "
                f"iteration(s) at eps = {self.hp['eps']:.2f} the judge says {pred} "
                f"({100 * p.max():.0f}%): {verdict}")

    def figure(self):
        fig = make_subplots(rows=1, cols=4, column_widths=[0.2, 0.2, 0.2, 0.4],
                            horizontal_spacing=0.05,
                            subplot_titles=("clean", "change/ε", "attacked", "probabilities"))
        data = self.frame()
        fig.add_trace(go.Heatmap(colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip", **data[0]), row=1, col=1)
        fig.add_trace(go.Heatmap(colorscale="RdBu", zmin=-1, zmax=1, showscale=False,
                                 hoverinfo="skip", **data[1]), row=1, col=2)
        fig.add_trace(go.Heatmap(colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip", **data[2]), row=1, col=3)
        fig.add_bar(name="clean", marker_color=COLORS[0], row=1, col=4, **data[3])
        fig.add_bar(name="attacked", marker_color=COLORS[3], row=1, col=4, **data[4])
        _square(fig, 3)
        fig.update_yaxes(range=[0, 1.02], row=1, col=4)
        fig.update_xaxes(type="category", row=1, col=4)
        fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=30), barmode="group",
                          legend=dict(orientation="h", x=1, xanchor="right", y=-0.15))
        return fig

    def frame(self):
        eps = self.hp["eps"]
        delta = (self.x_adv - self.x)[0] / eps if eps > 0 else torch.zeros(self.x.shape[1])
        return [dict(z=_img(self.x[0])), dict(z=_img(delta)), dict(z=_img(self.x_adv[0])),
                dict(x=CLASSES, y=compact(self.probabilities(self.x))),
                dict(x=CLASSES, y=compact(self.probabilities(self.x_adv)))]


# --------------------------------------------------------------------------- adversarial training
EVAL_EPS = 0.1      # robust accuracy is measured against PGD at this radius
EVAL_EVERY = 20     # steps between two measurements on the test digits
SHOWN = 10          # test digits drawn, attacked, in the figure


class AdversarialTraining(Demo):
    """A fresh copy of the judge's network trained on attacked batches (Madry et al., 2018).

    Each step attacks a batch of 64 training digits against the current model (PGD, 7
    iterations, or FGSM) at radius ``eps`` and takes an Adam step on the attacked batch;
    ``eps = 0`` is ordinary training. Every 20 steps it measures the clean accuracy and the
    robust accuracy (PGD, 20 iterations, eps = 0.1) on the 360 test digits."""

    title = "Adversarial training"
    params = (
        Slider("eps", 0.0, 0.3, 0.1, step=0.01, label="training epsilon"),
        Choice("attack", ("PGD", "FGSM"), "PGD", restart=False, label="training attack"),
        Slider("lr", 1e-4, 0.1, 3e-3, log=True, label="learning rate"),
    )
    curves = ("clean_acc", "robust_acc")
    blowup = {"loss": 20.0}   # the attacked-batch loss at 20 x its start (~2.3): lower the learning rate

    def build(self):
        self.X, self.y, self.X_test, self.y_test = gdigits.load()
        self.model = gdigits.classifier()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.hp["lr"])
        self.order = torch.randperm(len(self.X)).split(64)
        self.batch = 0
        self.shown_x, self.shown_y = self.X_test[:SHOWN], self.y_test[:SHOWN]

    def apply(self, changed):
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]

    def train_step(self):
        if self.batch == len(self.order):
            self.order, self.batch = torch.randperm(len(self.X)).split(64), 0
        idx = self.order[self.batch]
        self.batch += 1
        self.model.train()
        loss = attacks.adversarial_training_step(self.model, self.opt, self.X[idx], self.y[idx],
                                                 self.hp["eps"], self.hp["attack"])
        self.model.eval()
        metrics = {"loss": loss}
        if (self.steps + 1) % EVAL_EVERY == 0:
            metrics.update(self.measure())
        return metrics

    def measure(self) -> dict:
        """Clean and robust (PGD, eps = 0.1) accuracy on the test digits."""
        self.model.eval()
        return {"clean_acc": attacks.accuracy_under_attack(self.model, self.X_test, self.y_test, 0.0),
                "robust_acc": attacks.accuracy_under_attack(self.model, self.X_test, self.y_test,
                                                            EVAL_EPS, "PGD")}

    def figure(self):
        fig = go.Figure()
        data = self.frame()
        fig.add_trace(go.Heatmap(colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip", **data[0]))
        fig.add_scatter(mode="text", hoverinfo="skip",
                        showlegend=False, **data[1])
        fig.update_xaxes(visible=False, scaleanchor="y", constrain="domain")
        fig.update_yaxes(visible=False, constrain="domain", range=[-3.5, 2 * SIDE + 1])
        fig.update_layout(height=250, margin=dict(l=10, r=10, t=40, b=10),
                          title=dict(text=f"ten test digits (top), their PGD attacks at ε = {EVAL_EPS} "
                                          "against this model (bottom) and its labels for them",
                                     font=dict(size=13)))
        return fig

    def frame(self):
        self.model.eval()
        adv = attacks.pgd(self.model, self.shown_x, self.shown_y, EVAL_EPS)
        pred, _ = attacks.predict(self.model, adv)
        tiles = gdigits.tile(torch.cat([self.shown_x, adv]), ncols=SHOWN)
        xs = [c * (SIDE + 1) + SIDE / 2 - 0.5 for c in range(SHOWN)]
        right = (pred == self.shown_y).numpy()
        return [dict(z=compact(tiles[::-1])),
                dict(x=compact(xs), y=compact([-2.0] * SHOWN),
                     text=[f"{p}{'' if ok else '✗'}" for p, ok in zip(pred.tolist(), right)],
                     textfont=dict(color=[COLORS[2] if ok else COLORS[3] for ok in right], size=14))]


# --------------------------------------------------------------------------- the IG explorer
BASELINES = ("blank", "blurred", "uniform noise", "mean digit")


def baseline_image(name: str, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A baseline for integrated gradients: the blank image (all pixels 0), a blurred copy of ``x`` (3 x 3
    box filter), uniform noise, or the mean training digit."""
    if name == "blank":
        return torch.zeros_like(x)
    if name == "blurred":
        img = x.reshape(-1, 1, SIDE, SIDE)
        return F.avg_pool2d(F.pad(img, (1, 1, 1, 1), mode="replicate"), 3, stride=1).reshape(x.shape)
    if name == "uniform noise":
        return torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))
    if name == "mean digit":
        return gdigits.load()[0].mean(0).expand_as(x).clone()
    raise ValueError(f"baseline must be one of {', '.join(BASELINES)}; got {name!r}")


class IGExplorer(Demo):
    """Integrated gradients of the judge's score for one test digit's true class.

    Step ``m`` estimates the path integral with ``m`` midpoints; the completeness gap
    ``|sum IG - (f(x) - f(x'))| / |f(x) - f(x')|`` is reported in percent."""

    title = "The integrated-gradients explorer"
    params = (
        Slider("digit", 0, 359, 0, integer=True, label="test digit"),
        Choice("baseline", BASELINES, "blank"),
    )
    curves = ("gap_percent",)
    log_curves = True
    blowup = {}   # nothing trains: each step only adds a point to a sum that converges

    def build(self):
        self.model = gdigits.trained_classifier()
        x, label = test_digit(self.hp["digit"])
        self.x, self.label = x[None], label
        self.base = baseline_image(self.hp["baseline"], self.x, self.seed)
        self.points = 1
        self._compute()

    def _compute(self):
        self.ig = explain.integrated_gradients(self.model, self.x, self.label, self.base, self.points)
        self.gap = float(explain.completeness_gap(self.model, self.ig, self.x, self.label, self.base)[0])

    def train_step(self):
        self.points += 1
        self._compute()
        return {"gap_percent": max(100 * self.gap, 1e-6)}

    def note(self) -> str:
        with torch.no_grad():
            f = lambda v: float(self.model(v)[0, self.label])   # noqa: E731
            change = f(self.x) - f(self.base)
        return (f"{self.points} point(s) on the path; sum of attributions {float(self.ig.sum()):.3f}, "
                f"f(x) - f(baseline) = {change:.3f}: gap {100 * self.gap:.2f}%")

    def figure(self):
        fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.05,
                            subplot_titles=("digit", "baseline", "attribution (red +, blue −)"))
        data = self.frame()
        fig.add_trace(go.Heatmap(colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip", **data[0]), row=1, col=1)
        fig.add_trace(go.Heatmap(colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip", **data[1]), row=1, col=2)
        fig.add_trace(go.Heatmap(colorscale="RdBu", reversescale=True, zmid=0, showscale=False,
                                 hoverinfo="skip", **data[2]), row=1, col=3)
        _square(fig, 3)
        fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10))
        return fig

    def frame(self):
        return [dict(z=_img(self.x[0])), dict(z=_img(self.base[0])), dict(z=_img(self.ig[0]))]


# --------------------------------------------------------------------------- section figures
def accuracy_figure(epsilons, curves: dict, reference: float | None = None) -> go.Figure:
    """Accuracy against eps for each attack (``{name: [accuracy per eps]}``)."""
    fig = go.Figure()
    for i, (name, acc) in enumerate(curves.items()):
        fig.add_scatter(x=compact(epsilons), y=compact(acc), mode="lines+markers", name=name,
                        line=dict(color=COLORS[i], width=2))
    if reference is not None:
        fig.add_hline(y=reference, line=dict(dash="dot", color="grey"),
                      annotation_text="chance (10%)", annotation_position="top right")
    fig.update_layout(height=320, margin=dict(l=50, r=20, t=40, b=45),
                      xaxis_title="ε (largest change of any pixel)", yaxis_title="test accuracy",
                      yaxis_range=[0, 1.02], legend=dict(x=0.98, xanchor="right", y=0.95, yanchor="top"))   # inside, top right: the curves start high on the left
    return fig


def attack_grid(x, x_adv, labels, preds, eps: float, n: int = 6) -> go.Figure:
    """Clean digits, their perturbation magnified (divided by eps) and the attacked digits,
    one column per digit; titles give the true label and the judge's verdict."""
    n = min(n, len(x))
    fig = make_subplots(rows=3, cols=n, vertical_spacing=0.04, horizontal_spacing=0.02,
                        row_titles=["clean", "change ÷ ε", "attacked"],
                        subplot_titles=[f"{int(labels[i])} → {int(preds[i])}" for i in range(n)])
    for i in range(n):
        fig.add_trace(go.Heatmap(z=_img(x[i]), colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip"), row=1, col=i + 1)
        fig.add_trace(go.Heatmap(z=_img((x_adv[i] - x[i]) / eps), colorscale="RdBu", zmin=-1, zmax=1,
                                 showscale=False, hoverinfo="skip"), row=2, col=i + 1)
        fig.add_trace(go.Heatmap(z=_img(x_adv[i]), colorscale="Greys", zmin=0, zmax=1,
                                 showscale=False, hoverinfo="skip"), row=3, col=i + 1)
    _square(fig, 3 * n)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=360, margin=dict(l=10, r=30, t=30, b=10))
    return fig


def heatmap_row(images, titles, colorscale="Greys", signed=False, height=170) -> go.Figure:
    """A row of 8 x 8 heatmaps; ``signed`` centres a red-blue scale on 0 for each."""
    images = [np.asarray(torch.as_tensor(v).detach(), dtype=np.float32) for v in images]
    fig = make_subplots(rows=1, cols=len(images), horizontal_spacing=0.02, subplot_titles=titles)
    for i, v in enumerate(images):
        if signed:
            m = float(np.abs(v).max()) or 1.0
            trace = go.Heatmap(z=_img(v), colorscale="RdBu", reversescale=True, zmin=-m, zmax=m)
        else:
            trace = go.Heatmap(z=_img(v), colorscale=colorscale, zmin=0,
                               zmax=float(v.max()) or 1.0)
        trace.update(showscale=False, hoverinfo="skip")
        fig.add_trace(trace, row=1, col=i + 1)
    _square(fig, len(images))
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def attribution_grid(x, maps: dict, labels, n: int = 5) -> go.Figure:
    """Rows: the digits, then one row per attribution method (red positive, blue negative)."""
    rows = 1 + len(maps)
    fig = make_subplots(rows=rows, cols=n, vertical_spacing=0.03, horizontal_spacing=0.02,
                        row_titles=["digit", *maps], subplot_titles=[f"label {int(labels[i])}" for i in range(n)])
    for i in range(n):
        fig.add_trace(go.Heatmap(z=_img(x[i]), colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip"), row=1, col=i + 1)
        for r, a in enumerate(maps.values()):
            v = a[i]
            m = float(v.abs().max()) or 1.0
            fig.add_trace(go.Heatmap(z=_img(v), colorscale="RdBu", reversescale=True, zmin=-m, zmax=m,
                                     showscale=False, hoverinfo="skip"), row=r + 2, col=i + 1)
    _square(fig, rows * n)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=110 * rows + 40, margin=dict(l=10, r=40, t=30, b=10))
    return fig


def sanity_figure(results: dict, layers: list[str]) -> go.Figure:
    """Rank correlation with the trained model's attributions, after randomizing more layers."""
    fig = go.Figure()
    x = ["trained", *layers]
    for i, (method, values) in enumerate(results.items()):
        fig.add_scatter(x=x, y=compact([1.0, *values]), mode="lines+markers", name=method,
                        line=dict(color=COLORS[i], width=2, dash=("solid", "solid", "dash")[i % 3]))
    fig.update_layout(height=320, margin=dict(l=50, r=20, t=40, b=45), yaxis_range=[-0.1, 1.05],
                      xaxis_title="weights randomized, from the output down",
                      yaxis_title="rank correlation with trained", legend=dict(orientation="h", y=1.15))
    return fig


def matrix_row(matrices, titles, x_labels, y_labels, height=330) -> go.Figure:
    """Heatmaps side by side, each on a scale from 0 to its maximum (attention maps and
    attributions of a sequence model: rows look, columns are looked at). Labels may repeat
    (the same token at two positions): the axes are positions, the labels their tick text."""
    fig = make_subplots(rows=1, cols=len(matrices), horizontal_spacing=0.04, subplot_titles=titles,
                        shared_yaxes=True)
    xs, ys = list(range(len(x_labels))), list(range(len(y_labels)))
    for i, m in enumerate(matrices):
        m = np.asarray(m, dtype=np.float32)
        fig.add_trace(go.Heatmap(z=compact(m), x=xs, y=ys, colorscale="Blues", zmin=0,
                                 zmax=float(m.max()) or 1.0, showscale=False,
                                 hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>"),
                      row=1, col=i + 1)
        fig.update_xaxes(tickvals=xs, ticktext=list(x_labels), tickangle=0, tickfont_size=9,
                         title_text="token looked at" if i == len(matrices) // 2 else None,
                         row=1, col=i + 1)
    fig.update_yaxes(tickvals=ys, ticktext=list(y_labels), autorange="reversed", tickfont_size=9)
    fig.update_yaxes(title_text="token read", row=1, col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=40, b=45))
    return fig
