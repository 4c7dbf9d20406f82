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
