"""The GAN chapter's demos: the views of :mod:`genmech.gan` (Goodfellow et al., 2014).

* :class:`GANLab`, the live 2D lab after GAN Lab (Kahng et al., 2019): the
  discriminator's belief as a heatmap, real and generated samples, the generator's
  gradient as arrows and its manifold; besides the framework's controls it adds Step D
  and Step G (:meth:`GANLab.actions`), slow motion (:meth:`GANLab.substeps`) and "Show
  code" (:meth:`GANLab.code`);
* :class:`DigitsGAN`, a fully connected GAN that draws scikit-learn's 8 x 8 digits, and
  :class:`DigitsDCGAN`, the same with the convolutional networks of
  :func:`genmech.gan.dcgan_generator` and :func:`genmech.gan.dcgan_discriminator`.

The losses, the model and the measurements they draw are in :mod:`genmech.gan`.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import data as gdata
from . import digits as gdigits
from .digits_demos import image_grid
from .gan import (GAN, LOSSES, GANConfig, dcgan_discriminator, dcgan_generator, histogram_js,
                  mode_coverage)
from .live import BLOWUP, Choice, Demo, Slider
from .nets import decision_grid
from .plotting import COLORS, compact


# --------------------------------------------------------------------------- the 2D lab
HEATMAP = 40          # the discriminator heatmap is HEATMAP x HEATMAP


MANIFOLD_LINES = 13   # noise grid lines per direction


SHOWN = 400           # generated samples drawn


ARROWS = 60           # gradient arrows drawn


EVAL_EVERY = 25       # steps between measurements of JS and modes covered


MIN_POINTS = 8   # fewer than this is not a distribution a GAN can be shown learning


def checked_points(points) -> torch.Tensor:
    """A reader's own 2D points as an (n, 2) float tensor, or a ValueError saying what is wrong
    with them (shared by the GAN lab and the diffusion lab)."""
    p = np.asarray(points, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < MIN_POINTS:
        raise ValueError(f"your points must be an array of shape (n, 2) with n >= {MIN_POINTS}, "
                         f"got shape {p.shape}: draw or pass a few more points")
    if not np.isfinite(p).all():
        raise ValueError("your points must be finite numbers")
    if np.ptp(p, axis=0).max() < 1e-6:
        raise ValueError("your points are all the same point: a distribution to learn needs "
                         "points in more than one place")
    return torch.as_tensor(p)


def _extent(real: torch.Tensor, pad: float = 0.15) -> tuple:
    lo, hi = real.min(0).values.numpy(), real.max(0).values.numpy()
    center, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 0.5) * (1 + 2 * pad)
    return (center[0] - half, center[0] + half, center[1] - half, center[1] + half)


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line segments start -> end as one trace: x and y with NaN between segments."""
    nan = np.full(len(starts), np.nan)
    xs = np.stack([starts[:, 0], ends[:, 0], nan], 1).ravel()
    ys = np.stack([starts[:, 1], ends[:, 1], nan], 1).ravel()
    return xs, ys


LAB_CURVES = ("d_loss", "g_loss", "js", "modes")   # the lab's metric panels, in trace order


LOSS_BLOWUP = 20.0    # a loss this many times its first value: the run has diverged


class GANLab(Demo):
    """A GAN learning a 2D distribution, every part of it drawn.

    Left panel (data space): the discriminator's belief D(x) as a heatmap, the real samples,
    the generated samples and, on some of them, arrows along ``-dL_G/dx`` (where the
    generator's loss pushes them). Right panel: the generator's manifold, a grid of noise
    vectors warped into data space, drawn over the real samples. Curves: D and G losses, the
    JS divergence between real and generated samples on a 30 x 30 grid, and the modes covered.

    ``GANLab(points=my_array)`` trains on your own (n, 2) array of points.
    """

    title = "GAN lab"
    params = (
        Choice("dataset", ("ring", "grid", "moons", "spiral", "line", "yours"), "ring"),
        Choice("loss", LOSSES, "non-saturating", restart=False),
        Slider("lr_d", 1e-5, 0.1, 1e-3, log=True, label="D learning rate"),
        Slider("lr_g", 1e-5, 0.1, 1e-3, log=True, label="G learning rate"),
        Slider("d_steps", 1, 10, 1, integer=True, label="D steps per G step"),
        Slider("hidden", 4, 256, 128, integer=True, step=4, label="hidden units", restart=True),
        Slider("layers", 1, 4, 2, integer=True, label="hidden layers", restart=True),
        Slider("noise_dim", 1, 8, 2, integer=True, label="noise dimension", restart=True),
    )
    curves = ("d_loss", "g_loss")
    # divergence (see check): a loss 20 times its first value under the current loss

    def __init__(self, points=None, seed: int = 0, **hp):
        self.points = None if points is None else checked_points(points)
        if self.points is not None:
            hp.setdefault("dataset", "yours")
        super().__init__(seed=seed, **hp)

    # -- Demo hooks
    def build(self):
        hp = self.hp
        if hp["dataset"] == "yours":
            if self.points is None:
                raise ValueError("dataset 'yours' needs your points: GANLab(points=array_of_shape_n_by_2)")
            real = self.points
        else:
            real = gdata.density(hp["dataset"], n=4096, seed=self.seed)
        self.cfg = GANConfig(**{k: hp[k] for k in ("dataset", "loss", "lr_d", "lr_g", "d_steps",
                                                      "hidden", "layers", "noise_dim")})
        self.gan = GAN(real, self.cfg)
        self.extent = _extent(real)
        self.centers = gdata.mode_centers(hp["dataset"]) if hp["dataset"] in ("ring", "grid") else None
        # fixed inputs for the pictures, drawn from their own generator: showing the state
        # must not change the random numbers that training uses
        g = torch.Generator().manual_seed(self.seed + 1)
        self.z_shown = torch.rand(SHOWN, self.cfg.noise_dim, generator=g) * 2 - 1
        self.z_eval = torch.rand(1000, self.cfg.noise_dim, generator=g) * 2 - 1
        self.real_shown = real[torch.randperm(len(real), generator=g)[:SHOWN]].numpy()
        self.d_updates = self.g_updates = 0
        self.last_update = ""
        self.first_losses = {}     # the first value of each loss under the current loss choice

    def apply(self, changed):
        cfg = self.cfg
        cfg.loss, cfg.lr_d, cfg.lr_g, cfg.d_steps = (self.hp[k] for k in ("loss", "lr_d", "lr_g", "d_steps"))
        self.gan.set_learning_rates(cfg.lr_d, cfg.lr_g)
        if "loss" in changed:
            self.first_losses = {}  # another loss, another scale

    def check(self, metrics: dict) -> str | None:
        """Divergence: a loss more than :data:`LOSS_BLOWUP` times its first value under the
        current loss (one network has won outright). With WGAN-GP only the critic's loss is
        watched: the penalty pins its scale, while the generator's loss ``-E[f(G(z))]``
        carries the critic's free offset and may drift without anything going wrong."""
        watched = ("d_loss",) if self.cfg.loss == "wgan-gp" else ("d_loss", "g_loss")
        for name in watched:
            if name not in metrics:
                continue
            first = self.first_losses.setdefault(name, metrics[name])
            if abs(metrics[name]) > LOSS_BLOWUP * max(abs(first), 1e-12):
                return BLOWUP.format(name=name, value=metrics[name], factor=LOSS_BLOWUP,
                                     first=first, step=self.steps)
        return None

    def train_step(self):
        metrics = self.gan.step()
        self.d_updates += self.cfg.d_steps
        self.g_updates += 1
        self.last_update = f"one round: {self.cfg.d_steps} D update(s), then 1 G update"
        if (self.steps + 1) % EVAL_EVERY == 0:
            metrics.update(self.measure())
        return metrics

    def update_d(self) -> dict:
        """One discriminator update alone (the lab's "Step D")."""
        loss = self.gan.update_d()
        self.d_updates += 1
        self.last_update = f"D update #{self.d_updates}: the heatmap moved, the samples did not"
        return {"d_loss": loss}

    def update_g(self) -> dict:
        """One generator update alone (the lab's "Step G")."""
        loss = self.gan.update_g()
        self.g_updates += 1
        self.last_update = f"G update #{self.g_updates}: the samples moved along the arrows"
        return {"g_loss": loss}

    def actions(self) -> dict:
        """Step D and Step G: one update of one network (counted and checked by :meth:`act`)."""
        return {"Step D": self.update_d, "Step G": self.update_g}

    def substeps(self) -> list[str]:
        """Slow motion: a round is ``d_steps`` D updates, then one G update."""
        return ["Step D"] * self.cfg.d_steps + ["Step G"]

    def note(self) -> str:
        return f"last: {self.last_update}" if self.last_update else ""

    def measure(self) -> dict:
        """JS divergence on a grid, modes covered and high-quality fraction, from fixed noise."""
        fake = self.gan.sample(len(self.z_eval), self.z_eval)
        out = {"js": histogram_js(self.gan.real, fake, self.extent)}
        if self.centers is not None:
            cov = mode_coverage(fake, self.centers)
            out.update(modes=float(cov.modes), high_quality=cov.high_quality)
        return out

    def metric_figure(self) -> go.Figure:
        """Three small panels: the losses, the JS divergence, the modes covered."""
        fig = make_subplots(rows=1, cols=3, subplot_titles=("losses", "JS (grid)",
                                                            "modes"),
                            horizontal_spacing=0.08)
        for i, (name, data) in enumerate(zip(LAB_CURVES, self.metric_frame())):
            col = {"d_loss": 1, "g_loss": 1, "js": 2, "modes": 3}[name]
            # JS and modes are measured now and then: markers show them from the first one
            fig.add_scatter(mode="lines" if col == 1 else "lines+markers", name=name.replace("_", " "),
                            row=1, col=col, line=dict(color=COLORS[i], width=2), marker=dict(size=5),
                            showlegend=col == 1, **data)
        if self.centers is not None:
            fig.update_yaxes(range=[0, len(self.centers) + 0.5], row=1, col=3)
        fig.update_yaxes(range=[0, math.log(2) + 0.02], row=1, col=2)
        fig.update_xaxes(title="step")
        fig.update_layout(height=260, margin=dict(l=40, r=10, t=40, b=40),
                          legend=dict(orientation="h", x=0, y=-0.35))
        return fig

    def metric_frame(self) -> list[dict]:
        """The four curves of :meth:`metric_figure`, in its trace order."""
        return self.metrics.curves(LAB_CURVES)

    def figure(self):
        x0, x1, y0, y1 = self.extent
        fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.06,
                            subplot_titles=("D(x), real, generated and G's gradient",
                                            "the generator's manifold"))
        data = self.frame()
        xs, ys = np.linspace(x0, x1, HEATMAP), np.linspace(y0, y1, HEATMAP)
        fig.add_trace(go.Heatmap(x=compact(xs), y=compact(ys), colorscale="RdBu", zmin=0, zmax=1,
                                 name="D(x)", hoverinfo="skip", opacity=0.8,
                                 # the colour bar at the figure's left edge (in pixels, so that it keeps clear of the
                                 # tick labels at any width)
                                 colorbar=dict(title="D(x)", len=0.8, thickness=12,
                                               xref="container", x=0, xanchor="left"),
                                 **data[0]), row=1, col=1)
        real = dict(x=compact(self.real_shown[:, 0]), y=compact(self.real_shown[:, 1]))
        fig.add_scatter(mode="markers", name="real", marker=dict(size=4, color=COLORS[2]),
                        row=1, col=1, **real)
        fig.add_scatter(mode="markers", name="generated", marker=dict(size=4, color=COLORS[4]),
                        row=1, col=1, **data[2])
        fig.add_scatter(mode="lines", name="G's gradient", line=dict(color="black", width=1),
                        row=1, col=1, **data[3])
        fig.add_scatter(mode="markers", name="real", marker=dict(size=4, color=COLORS[2]),
                        opacity=0.35, showlegend=False, row=1, col=2, **real)
        fig.add_scatter(mode="lines", name="manifold", line=dict(color=COLORS[4], width=1),
                        row=1, col=2, **data[5])
        for col in (1, 2):
            fig.update_xaxes(range=[x0, x1], row=1, col=col, showgrid=False, zeroline=False)
            fig.update_yaxes(range=[y0, y1], row=1, col=col, showgrid=False, zeroline=False,
                             scaleanchor="x" if col == 1 else "x2")
        fig.update_layout(height=430, margin=dict(l=30, r=10, t=60, b=30),
                          legend=dict(orientation="h", x=0.5, xanchor="center", y=1.12, yanchor="bottom"))
        return fig

    def frame(self):
        """Heatmap z, (real: fixed), generated, arrows, (real again), manifold lines."""
        gan = self.gan
        x0, x1, y0, y1 = self.extent
        grid = decision_grid(np.linspace(x0, x1, HEATMAP), np.linspace(y0, y1, HEATMAP))
        heat = gan.d_prob(grid).numpy().reshape(HEATMAP, HEATMAP)
        fake = gan.sample(SHOWN, self.z_shown).numpy()
        x, grad = gan.generator_gradients(self.z_shown[:ARROWS])
        x, grad = x.numpy(), grad.numpy()
        scale = 0.12 * (x1 - x0) / max(float(np.linalg.norm(grad, axis=1).max()), 1e-12)
        ax, ay = _segments(x, x + scale * grad)
        mx, my = self.manifold()
        return [dict(z=compact(heat)), None, dict(x=compact(fake[:, 0]), y=compact(fake[:, 1])),
                dict(x=compact(ax), y=compact(ay)), None, dict(x=compact(mx), y=compact(my))]

    def manifold(self, lines: int = MANIFOLD_LINES, points: int = 25):
        """A grid of noise (first two coordinates; the others 0) pushed through G, as lines."""
        t = torch.linspace(-1, 1, lines)
        s = torch.linspace(-1, 1, points)
        d = self.cfg.noise_dim
        xs, ys = [], []
        for horizontal in (True, False):
            for v in t:
                z = torch.zeros(points, d)
                z[:, 0] = s if horizontal else v
                if d > 1:
                    z[:, 1] = v if horizontal else s
                elif not horizontal:
                    continue   # one noise dimension: a single curve
                out = self.gan.sample(points, z).numpy()
                xs += [*out[:, 0], np.nan]
                ys += [*out[:, 1], np.nan]
                if d == 1:
                    break
        return np.array(xs), np.array(ys)

    # -- the reader's extras (the framework's hooks)
    def code(self) -> str:
        """Standalone PyTorch code that trains the lab's current configuration."""
        c = self.cfg
        data = ("points = torch.tensor(my_points, dtype=torch.float32)  # your (n, 2) array"
                if c.dataset == "yours" else
                f"points = genmech.data.density({c.dataset!r}, n=4096, seed=0)    # (4096, 2)")
        d_loss = {"least-squares": "0.5 * ((D(real) - 1) ** 2).mean() + 0.5 * (D(fake) ** 2).mean()",
                  "wgan-gp": (  # the critic's loss: E f(G(z)) - E f(x) + lambda (||grad f(x_hat)|| - 1)^2
                      "D(fake).mean() - D(real).mean()\n"
                      "        eps = torch.rand(len(real), 1)                # interpolates x_hat\n"
                      "        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)\n"
                      "        grad, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)\n"
                      f"        d_loss = d_loss + {c.gp_weight:g} * ((grad.norm(dim=1) - 1) ** 2).mean()"
                      "   # gradient penalty")}.get(
            c.loss, "F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()   # -log D(x) - log(1 - D(G(z)))")
        g_loss = {"minimax": "-F.softplus(D(G(z))).mean()                # log(1 - D(G(z)))",
                  "non-saturating": "F.softplus(-D(G(z))).mean()                # -log D(G(z))",
                  "least-squares": "0.5 * ((D(G(z)) - 1) ** 2).mean()",
                  "wgan-gp": "-D(G(z)).mean()                            # -E f(G(z))"}[c.loss]
        hidden = ", ".join([str(c.hidden)] * c.layers)
        return f"""import torch
import torch.nn.functional as F
import genmech.data
from genmech.nets import mlp

torch.manual_seed(0)
{data}
G = mlp([{c.noise_dim}, {hidden}, 2], "relu")          # generator: noise -> point
D = mlp([2, {hidden}, 1], "leaky_relu")    # discriminator: point -> logit
opt_d = torch.optim.Adam(D.parameters(), lr={c.lr_d:.3g}, betas=(0.5, 0.999))
opt_g = torch.optim.Adam(G.parameters(), lr={c.lr_g:.3g}, betas=(0.5, 0.999))

for step in range(2000):
    for _ in range({c.d_steps}):                         # discriminator update(s)
        real = points[torch.randint(len(points), ({c.batch},))]
        fake = G(torch.rand({c.batch}, {c.noise_dim}) * 2 - 1).detach()
        d_loss = {d_loss}
        opt_d.zero_grad(); d_loss.backward(); opt_d.step()
    z = torch.rand({c.batch}, {c.noise_dim}) * 2 - 1                # generator update ({c.loss})
    g_loss = {g_loss}
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()
"""


# --------------------------------------------------------------------------- digits
class DigitsGAN(Demo):
    """A fully connected GAN on scikit-learn's 8 x 8 digits (1,437 training images).

    The figure shows what the generator makes of the same fixed noise vectors as it trains,
    so each tile sharpens in place. The generator ends in a sigmoid (pixels in [0, 1]).
    """

    title = "A GAN drawing digits"
    params = (
        Slider("lr", 1e-4, 1e-2, 2e-3, log=True, label="learning rate (D and G)"),
        Slider("noise_dim", 2, 64, 16, integer=True, label="noise dimension", restart=True),
        Slider("hidden", 32, 512, 256, integer=True, step=32, label="hidden units", restart=True),
    )
    curves = ("d_loss", "g_loss")
    blowup = {"d_loss": 20.0, "g_loss": 20.0}   # one network has won outright
    SHOWN = 30

    def build(self):
        X, _, _, _ = gdigits.load()
        self.cfg = GANConfig(dataset="digits", loss="non-saturating", lr_d=self.hp["lr"],
                             lr_g=self.hp["lr"], hidden=self.hp["hidden"], layers=2,
                             noise_dim=self.hp["noise_dim"], batch=64)
        self.gan = GAN(X, self.cfg, out_activation="sigmoid")
        g = torch.Generator().manual_seed(self.seed + 1)
        self.z_fixed = torch.rand(self.SHOWN, self.cfg.noise_dim, generator=g) * 2 - 1

    def apply(self, changed):
        self.gan.set_learning_rates(self.hp["lr"], self.hp["lr"])

    def train_step(self):
        return self.gan.step()

    def figure(self):
        fig = image_grid(self.gan.sample(self.SHOWN, self.z_fixed), ncols=10,
                                 title="generated from 30 fixed noise vectors")
        return fig

    def frame(self):
        tiles = gdigits.tile(self.gan.sample(self.SHOWN, self.z_fixed), ncols=10)
        return [dict(z=compact(tiles[::-1]))]

    def samples(self, n: int = 1000, seed: int = 0) -> torch.Tensor:
        """``n`` generated digits (n, 64) from fresh, seeded noise."""
        g = torch.Generator().manual_seed(seed)
        return self.gan.sample(n, torch.rand(n, self.cfg.noise_dim, generator=g) * 2 - 1)

    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, n: int = 10) -> torch.Tensor:
        """Digits along the straight line from noise ``z0`` to ``z1``: (n, 64)."""
        t = torch.linspace(0, 1, n)[:, None]
        return self.gan.sample(n, (1 - t) * z0 + t * z1)


class DigitsDCGAN(DigitsGAN):
    """:class:`DigitsGAN` with convolutional networks (DCGAN, Radford et al., 2016).

    Same data, loss, optimiser, batch and figure; only the two networks differ: the
    generator upsamples a (channels, 2, 2) map by transposed convolutions, the discriminator
    downsamples by strided convolutions (:func:`genmech.gan.dcgan_generator`,
    :func:`genmech.gan.dcgan_discriminator`, with half as many channels).
    """

    title = "A convolutional GAN (DCGAN) drawing digits"
    params = (
        Slider("lr", 1e-4, 1e-2, 2e-3, log=True, label="learning rate (D and G)"),
        Slider("noise_dim", 2, 64, 16, integer=True, label="noise dimension", restart=True),
        Slider("channels", 16, 256, 64, integer=True, step=16, label="generator channels", restart=True),
    )
    blowup = {"d_loss": 20.0, "g_loss": 20.0}   # as DigitsGAN: one network has won outright

    def build(self):
        X, _, _, _ = gdigits.load()
        self.cfg = GANConfig(dataset="digits", loss="non-saturating", lr_d=self.hp["lr"],
                             lr_g=self.hp["lr"], noise_dim=self.hp["noise_dim"], batch=64)
        channels = int(self.hp["channels"])
        self.gan = GAN(X, self.cfg, G=dcgan_generator(self.cfg.noise_dim, channels),
                       D=dcgan_discriminator(max(channels // 2, 1)))
        g = torch.Generator().manual_seed(self.seed + 1)
        self.z_fixed = torch.rand(self.SHOWN, self.cfg.noise_dim, generator=g) * 2 - 1
