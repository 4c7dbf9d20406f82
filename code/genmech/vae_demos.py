"""The VAE chapter's demos and figures: the views of :mod:`genmech.vae` (Kingma & Welling,
2014; Higgins et al., 2017).

* :class:`VAEDemo`, the live-or-recorded training demo with a β slider (section 4);
* :func:`latent_map` and :func:`explorer`, which draw the learned 2D latent space and let
  a reader walk through it (section 5);
* :func:`codebook_usage_figure`, how often a VQ-VAE uses each code of its codebook (section 6).

The models, the ELBO and the training are in :mod:`genmech.vae`.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import digits
from .digits_demos import image_grid
from .live import Demo, Slider, mode
from .nets import set_learning_rate
from .plotting import COLORS, class_marker, compact
from .vae import (VAE, Config, check_images, circle_path, codebook_perplexity, decode_mean, elbo_terms,
                  normal_quantiles, shuffled_batches)



def _latent_scatter_data(codes: np.ndarray, labels: np.ndarray) -> list[dict]:
    return [dict(x=compact(codes[labels == c, 0]), y=compact(codes[labels == c, 1]))
            for c in range(10)]


# --------------------------------------------------------------------------- the training demo
class VAEDemo(Demo):
    """A VAE with a 2D latent space trains on the digits.

    Left: the code μ(x) of every test digit, coloured by its class. Middle: eight fixed test
    digits (top) and their reconstructions (bottom). Right: the two terms of the negative
    ELBO per image, reconstruction and KL. The β slider weighs the KL term while it trains.
    """

    title = "A VAE with a 2D latent space, training on digits"
    params = (
        Slider("beta", 0.01, 20.0, 1.0, log=True, label="β (weight of the KL term)"),
        Slider("lr", 1e-4, 10.0, 3e-3, log=True, label="learning rate"),
    )
    curves = ("neg_elbo",)      # the figure draws the two terms; the curve beside it, their sum
    blowup = {"neg_elbo": 10.0}   # ten times the untrained model's -ELBO: overshooting
    log_curves = False
    fps = 12              # a redraw re-encodes the test digits: 12 a second is plenty
    live_width = 900      # three panels and the legend of ten classes
    SHOWN = 8          # test digits whose reconstructions are drawn

    def build(self):
        X, _, Xt, yt = digits.load()
        self.X, self.X_test, self.y_test = X, Xt, yt.numpy()
        self.shown = Xt[:self.SHOWN]
        self.model = VAE(Config(latent=2, seed=self.seed))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.hp["lr"])
        self.batches = shuffled_batches(len(X), 128, torch.Generator().manual_seed(self.seed))

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])   # β is read at every step; lr lives in Adam

    def train_step(self):
        recon, kl = elbo_terms(self.model, self.X[next(self.batches)])
        loss = (recon + self.hp["beta"] * kl).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"reconstruction": recon.mean().item(), "kl": kl.mean().item(),
                "neg_elbo": (recon + kl).mean().item()}

    @torch.no_grad()
    def _codes(self) -> np.ndarray:
        return self.model.encode(self.X_test)[0].numpy()

    def figure(self):
        fig = make_subplots(rows=1, cols=3, column_widths=[0.38, 0.26, 0.36], horizontal_spacing=0.07,
                            subplot_titles=("codes μ(x)", "in, out", "loss (nats/image)"))
        data = self.frame()
        for c in range(10):
            fig.add_scatter(mode="markers", name=str(c), marker=class_marker(c, 5),
                            legendgroup="digits", row=1, col=1, **data[c])
        fig.add_trace(go.Heatmap(colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip", **data[10]), row=1, col=2)
        for i, name in enumerate(("reconstruction", "KL")):
            fig.add_scatter(mode="lines", name=name, line=dict(color=COLORS[i + 2], width=2),
                            legendgroup="curves", row=1, col=3, **data[11 + i])
        fig.update_xaxes(title="z₁", row=1, col=1)
        fig.update_yaxes(title="z₂", row=1, col=1)
        fig.update_xaxes(visible=False, scaleanchor="y2", constrain="domain", row=1, col=2)
        fig.update_yaxes(visible=False, constrain="domain", row=1, col=2)
        fig.update_xaxes(title="step", row=1, col=3)
        fig.update_yaxes(type="log", row=1, col=3)
        fig.update_layout(height=430, margin=dict(l=50, r=20, t=60, b=50),
                          legend=dict(orientation="v", x=1.01, y=1.0, font=dict(size=11)))
        return fig

    def frame(self):
        """Ten class scatters, the reconstruction heatmap, then the two loss curves."""
        codes = self._codes()
        with torch.no_grad():
            recon = self.model.reconstruct(self.shown)
        # rows of four: originals, their reconstructions, the next four, theirs
        half = self.SHOWN // 2
        pairs = [self.shown[:half], recon[:half], self.shown[half:], recon[half:]]
        tiles = digits.tile(torch.cat(pairs), ncols=half)
        curves = []
        for name in ("reconstruction", "kl"):
            s = self.metrics.series.get(name)
            steps, values = (s.steps, s.values) if s else ([], [])
            curves.append(dict(x=compact(steps), y=compact(np.maximum(values, 1e-4))))
        return _latent_scatter_data(codes, self.y_test) + [dict(z=tiles[::-1])] + curves


# --------------------------------------------------------------------------- walking the latent space
def latent_map(model: VAE, n: int = 15) -> go.Figure:
    """Decode an ``n`` x ``n`` grid of 2D codes, spaced by prior quantiles, into one map of digits."""
    if model.cfg.latent != 2:
        raise ValueError(f"latent_map draws a 2D latent space; this model has {model.cfg.latent}")
    q = normal_quantiles(n)
    z1, z2 = np.meshgrid(q, q[::-1])                  # top row: largest z2
    images = decode_mean(model, np.stack([z1.ravel(), z2.ravel()], 1))
    fig = image_grid(images, ncols=n, gap=0)
    fig.update_layout(title=f"decoded {n}×{n} grid of latent points (z₁ →, z₂ ↑)", height=520)
    return fig


def _explorer_figure(codes, labels, z, image) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4],
                        subplot_titles=("latent space (test digits) and the point z",
                                        "decoded digit at z"))
    for c in range(10):
        fig.add_scatter(mode="markers", name=str(c), opacity=0.7, hoverinfo="skip",
                        marker=class_marker(c, 5), row=1, col=1,
                        **_latent_scatter_data(codes, labels)[c])
    fig.add_scatter(x=[z[0]], y=[z[1]], mode="markers", name="z", row=1, col=1,
                    marker=dict(size=16, symbol="x", color="black"))
    fig.add_trace(go.Heatmap(z=image, colorscale="Greys", zmin=0, zmax=1, showscale=False,
                             hoverinfo="skip"), row=1, col=2)
    fig.update_xaxes(range=[-3.2, 3.2], title="z₁", row=1, col=1)
    fig.update_yaxes(range=[-3.2, 3.2], title="z₂", row=1, col=1)
    fig.update_xaxes(visible=False, scaleanchor="y2", constrain="domain", row=1, col=2)
    fig.update_yaxes(visible=False, constrain="domain", row=1, col=2)
    fig.update_layout(height=420, margin=dict(l=50, r=20, t=50, b=40), showlegend=False)
    return fig


def _digit_image(model, z) -> np.ndarray:
    return decode_mean(model, np.asarray(z, dtype=np.float32)[None]).reshape(8, 8).numpy()[::-1]


def explorer(model: VAE, x, labels, path=None):
    """Move a point z through the 2D latent space and watch the decoded digit change.

    In a live kernel: two sliders (z₁, z₂) drive a live figure. While the book is
    built (``GENMECH_MODE=record``): a plotly figure whose slider and Play button move z
    along ``path`` (default: a circle of radius 1.5).
    """
    if model.cfg.latent != 2:
        raise ValueError(f"the explorer walks a 2D latent space; this model has {model.cfg.latent}")
    with torch.no_grad():
        codes = model.encode(check_images(x))[0].numpy()
    labels = np.asarray(labels)
    if mode() == "live":
        live = ExplorerWidget(model, codes, labels)
        live.widget._explorer = live          # keeps the callbacks' owner alive (and testable)
        return live.widget
    path = circle_path() if path is None else np.asarray(path, dtype=np.float32)
    return explorer_recording(model, codes, labels, path)


def explorer_recording(model, codes, labels, path) -> go.Figure:
    """The static explorer: one animation frame per point of ``path``."""
    from .live import animate

    snaps = []
    for i, z in enumerate(path):
        snaps.append((f"{i}", [None] * 10 + [dict(x=[float(z[0])], y=[float(z[1])]),
                                             dict(z=_digit_image(model, z))]))
    final = _explorer_figure(codes, labels, path[0], _digit_image(model, path[0]))
    fig = animate(final, snaps, duration=150)
    fig.layout.sliders[0].active = 0
    fig.layout.sliders[0].currentvalue.update(prefix="point on the path: ", xanchor="right")
    return fig


class ExplorerWidget:
    """The live explorer: sliders for z₁ and z₂ beside a live figure (tests set the sliders)."""

    def __init__(self, model, codes, labels):
        import ipywidgets as w

        self.model = model
        from .livefigure import LiveFigure    # redraws reliably in JupyterLab (see its docstring)

        self.fig = LiveFigure(_explorer_figure(codes, labels, (0.0, 0.0), _digit_image(model, (0, 0))))
        self.sliders = [w.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.05, description=name)
                        for name in ("z₁", "z₂")]
        for s in self.sliders:
            s.observe(lambda _change: self.draw(), names="value")
        self.widget = w.VBox([w.HBox(self.sliders), self.fig])

    def draw(self):
        z = (self.sliders[0].value, self.sliders[1].value)
        self.fig.update_traces([None] * 10 + [dict(x=[z[0]], y=[z[1]]),
                                              dict(z=_digit_image(self.model, z))])


# --------------------------------------------------------------------------- the VQ-VAE's codebook
def codebook_usage_figure(indices, codes: int) -> go.Figure:
    """A bar per code of a VQ-VAE's codebook: the share of slots assigned to it, sorted."""
    indices = torch.as_tensor(indices).reshape(-1)
    used, perplexity = codebook_perplexity(indices, codes)
    share = torch.bincount(indices, minlength=codes).double() / len(indices)
    share = share.sort(descending=True).values.numpy()
    fig = go.Figure(go.Bar(x=np.arange(1, codes + 1), y=share, marker_color=COLORS[4], name="share"))
    fig.add_hline(y=1 / codes, line=dict(color=COLORS[0], dash="dash"),
                  annotation_text="equal use 1/K", annotation_position="top right")
    fig.update_layout(height=300, showlegend=False,
                      title=f"Codebook use: {used} of {codes} codes, perplexity {perplexity:.1f}",
                      xaxis_title="code, most used first", yaxis_title="share of slots",
                      meta=dict(alt=f"Bars of the share of slots each of the {codes} codes takes, "
                                    f"sorted; {used} codes are used, perplexity {perplexity:.1f} "
                                    f"(equal use would give {codes})."))
    return fig
