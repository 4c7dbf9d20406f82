"""Figures and live demos of the end-to-end chapter: the views of :mod:`genmech.pipeline`
(data and preprocessing) and :mod:`genmech.finetune` (LoRA, fine-tuning, DPO). The chapter
follows a whole system, so its models live in those two modules (and
:mod:`genmech.decoding`), not in a module named ``genmech.end_to_end``.

* :func:`steps_figure`: steps of gradient descent to a stated loss against the learning
  rate, one curve per scaling of the inputs;
* :func:`learning_curve_figure`: test error against training-set size with its fitted
  power law;
* :func:`two_curves_figure`: a metric against a setting for several runs;
* :class:`FineTuneDemo`: a pretrained GPT fine-tuned on a second corpus, live, with the
  loss on both domains drawn as it trains and the LoRA rank as a control.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from .plotting import COLORS, compact

# Series of one kind in one figure: never orange and vermillion together (CONTRIBUTING).
SERIES = [COLORS[i] for i in (0, 1, 2, 4, 5, 7)]


def steps_figure(results: dict, max_steps: int, title: str = "") -> go.Figure:
    """``results[name][lr] = steps or None``: one line per scaling, log-log; a run that never
    reaches the loss within ``max_steps`` is left out (a gap in its line)."""
    fig = go.Figure()
    for i, (name, row) in enumerate(results.items()):
        lrs = sorted(row)
        fig.add_scatter(x=compact(lrs), y=[row[lr] for lr in lrs], name=name, mode="lines+markers",
                        line=dict(color=SERIES[i % len(SERIES)], width=2), connectgaps=False)
    fig.update_xaxes(type="log", title="learning rate η", exponentformat="power")
    fig.update_yaxes(type="log", title="steps to the target loss")
    fig.update_layout(title=title, height=330, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def learning_curve_figure(n, errors, fit: dict, title: str = "", yaxis: str = "test error") -> go.Figure:
    """Measured points and the fitted ``a n^(-b) + c`` on log-log axes, with the floor ``c``."""
    from .pipeline import power_law

    n = np.asarray(n, dtype=float)
    grid = np.geomspace(n.min(), n.max() * 4, 60)
    fig = go.Figure()
    fig.add_scatter(x=compact(n), y=compact(errors), mode="markers", name="measured",
                    marker=dict(color=COLORS[0], size=9))
    fig.add_scatter(x=compact(grid), y=compact(power_law(grid, fit["a"], fit["b"], fit["c"])),
                    mode="lines", name=f"fit {fit['a']:.3g} n^-{fit['b']:.2f} + {fit['c']:.3f}",
                    line=dict(color=COLORS[1], width=2))
    fig.add_scatter(x=compact([grid[0], grid[-1]]), y=compact([fit["c"], fit["c"]]), mode="lines",
                    name="floor c", line=dict(color="grey", dash="dot", width=1))
    fig.update_xaxes(type="log", title="training examples n")
    fig.update_yaxes(type="log", title=yaxis)
    fig.update_layout(title=title, height=330, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def two_curves_figure(x, series: dict, xaxis: str, yaxis: str, title: str = "",
                      log_x: bool = False, height: int = 300) -> go.Figure:
    """One line with markers per entry of ``series`` against ``x``."""
    fig = go.Figure()
    for i, (name, y) in enumerate(series.items()):
        fig.add_scatter(x=compact(x), y=compact(y), mode="lines+markers", name=name,
                        line=dict(color=SERIES[i % len(SERIES)], width=2))
    fig.update_xaxes(title=xaxis, type="log" if log_x else "linear")
    fig.update_yaxes(title=yaxis)
    fig.update_layout(title=title, height=height, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.3))
    return fig


# --------------------------------------------------------------------------- live fine-tuning
from .finetune import add_lora, domains, pretrained, trainable_parameters  # noqa: E402
from .live import Demo, Slider  # noqa: E402
from .lm import random_batch  # noqa: E402
from .nets import set_learning_rate  # noqa: E402

DOMAINS = ("scikit-learn docs (old)", "standard library docs (new)")


class FineTuneDemo(Demo):
    """The pretrained small GPT fine-tuned on the standard library's docstrings: the loss on
    both domains as it trains. LoRA rank 0 means full fine-tuning (every weight trains)."""

    title = "Fine-tuning: the new domain improves, the old one is forgotten"
    params = (Slider("rank", 0, 64, 4, step=1, integer=True, restart=True,
                     label="LoRA rank (0: full fine-tuning)"),
              Slider("lr", 1e-4, 1.0, 3e-3, log=True, label="learning rate"))
    curves = ("old-domain loss", "new-domain loss")
    blowup = {"new-domain loss": 2.0}   # twice the pretrained model's loss on the new domain:
                                        # worse than guessing uniformly among the characters
    evaluate_every = 10                 # steps between two scorings of both domains
    probe = 2048                        # characters of each validation text scored

    def build(self):
        _, data = domains()
        self.model = pretrained()
        rank = self.hp["rank"]
        self.total = trainable_parameters(self.model)
        if rank:
            add_lora(self.model, rank)   # raises ValueError if rank > the smallest layer side
        self.trainable = trainable_parameters(self.model)
        self.train_data = data["new_train"]
        self.valid = {"old-domain loss": data["old_valid"][:self.probe],
                      "new-domain loss": data["new_valid"][:self.probe]}
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad],
                                     lr=self.hp["lr"], weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(self.seed)
        self.start = self.losses()
        self.current = dict(self.start)

    def losses(self) -> dict:
        self.model.eval()
        return {name: self.model.loss_on(d) for name, d in self.valid.items()}

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])

    def train_step(self):
        self.model.train()
        x, y = random_batch(self.train_data, self.model.config.block_size, 32, self.gen)
        _, loss = self.model(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if (self.steps + 1) % self.evaluate_every == 0:
            self.current = self.losses()
        return {"train loss": loss.item(), **self.current}

    def figure(self):
        fig = go.Figure()
        fig.add_bar(x=list(DOMAINS), y=[self.start[k] for k in self.curves], name="pretrained",
                    marker_color="#BBBBBB")
        fig.add_bar(x=list(DOMAINS), y=[self.current[k] for k in self.curves], name="now",
                    marker_color=[COLORS[0], COLORS[1]])
        share = self.trainable / self.total
        fig.update_layout(barmode="group", height=330, margin=dict(l=60, r=20, t=60, b=40),
                          yaxis=dict(title="validation loss (nats per character)", range=[0, 4]),
                          title=(f"{'full fine-tuning' if not self.hp['rank'] else 'LoRA, rank ' + str(self.hp['rank'])}: "
                                 f"{self.trainable:,} trainable parameters ({share:.1%})"),
                          legend=dict(orientation="h", y=-0.15))
        return fig

    def frame(self):
        return [None, dict(y=compact([self.current[k] for k in self.curves]))]

    def note(self):
        d = {k: self.current[k] - self.start[k] for k in self.curves}
        return (f"since the start: new domain {d['new-domain loss']:+.2f} nats, "
                f"old domain {d['old-domain loss']:+.2f} nats")


# --------------------------------------------------------------------------- the creativity dial
from plotly.subplots import make_subplots  # noqa: E402

from . import digits as _digits  # noqa: E402
from . import quality  # noqa: E402
from .gan import GAN, GANConfig  # noqa: E402

PSIS = (0.25, 0.5, 0.75, 1.0)


class TruncationDemo(Demo):
    """A GAN learns the digits; the truncation ψ scales its noise. Beside the samples, each
    ψ's fidelity (precision) and diversity (recall) in the judge's feature space, and the
    current ψ's point on that curve."""

    title = "The truncation dial: fidelity against diversity"
    params = (Slider("psi", 0.05, 1.0, 1.0, step=0.05, label="truncation ψ"),
              Slider("lr", 1e-4, 1e-2, 2e-3, log=True, label="learning rate (D and G)"))
    curves = ("precision", "recall")
    blowup = {"d_loss": 20.0, "g_loss": 20.0}   # one network has won outright
    measure_every = 50
    SHOWN = 20
    N = 300                                       # samples scored per setting

    def build(self):
        X, _, X_test, _ = _digits.load()
        self.gan = GAN(X, GANConfig(dataset="digits", loss="non-saturating", lr_d=self.hp["lr"],
                                    lr_g=self.hp["lr"], hidden=256, layers=2, noise_dim=16, batch=64),
                       out_activation="sigmoid")
        g = torch.Generator().manual_seed(self.seed + 1)
        self.z = torch.rand(self.N, 16, generator=g) * 2 - 1
        self.real = _digits.features(X_test)
        self.measure()

    def score(self, psi: float) -> tuple[float, float]:
        with torch.no_grad():
            fake = _digits.features(self.gan.sample(self.N, psi * self.z))
        pr = quality.precision_recall(self.real, fake, k=3)
        return pr.precision, pr.recall

    def measure(self):
        self.curve = [self.score(p) for p in PSIS]
        self.point = self.score(self.hp["psi"])

    def apply(self, changed):
        self.gan.set_learning_rates(self.hp["lr"], self.hp["lr"])
        if "psi" in changed:
            self.point = self.score(self.hp["psi"])

    def train_step(self):
        metrics = self.gan.step()
        if (self.steps + 1) % self.measure_every == 0:
            self.measure()
        return {**metrics, "precision": self.point[0], "recall": self.point[1]}

    def samples(self) -> np.ndarray:
        with torch.no_grad():
            images = self.gan.sample(self.SHOWN, self.hp["psi"] * self.z[:self.SHOWN])
        return _digits.tile(images, ncols=5)[::-1]

    def figure(self):
        fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.12,
                            subplot_titles=(f"samples at ψ = {self.hp['psi']:.2f}", "precision against recall"))
        fig.add_heatmap(z=self.samples(), colorscale="Greys", zmin=0, zmax=1, showscale=False,
                        hoverinfo="skip", row=1, col=1)
        fig.add_scatter(x=[c[1] for c in self.curve], y=[c[0] for c in self.curve], mode="lines+markers+text",
                        text=[f"ψ={p:g}" for p in PSIS], textposition="top right", name="ψ grid",
                        line=dict(color=COLORS[4]), marker=dict(color=COLORS[4], size=8), row=1, col=2)
        fig.add_scatter(x=[self.point[1]], y=[self.point[0]], mode="markers", name="current ψ",
                        marker=dict(color=COLORS[0], size=14, symbol="diamond"), row=1, col=2)   # blue diamond
        fig.update_xaxes(visible=False, scaleanchor="y", constrain="domain", row=1, col=1)
        fig.update_yaxes(visible=False, constrain="domain", row=1, col=1)
        fig.update_xaxes(title_text="recall (diversity)", range=[-0.05, 1.05], row=1, col=2)
        fig.update_yaxes(title_text="precision (fidelity)", range=[0, 1.05], row=1, col=2)
        fig.update_layout(height=360, margin=dict(l=20, r=20, t=50, b=50), showlegend=False,
                          meta=dict(alt="GAN samples at the current truncation, and the precision-recall "
                                        "curve over truncation settings with the current setting marked."))
        return fig

    def frame(self):
        return [dict(z=self.samples()),
                dict(x=compact([c[1] for c in self.curve]), y=compact([c[0] for c in self.curve])),
                dict(x=compact([self.point[1]]), y=compact([self.point[0]]))]

    def note(self):
        return f"ψ = {self.hp['psi']:.2f}: precision {self.point[0]:.2f}, recall {self.point[1]:.2f}"
