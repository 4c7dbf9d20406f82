"""Generative adversarial networks (Goodfellow et al., 2014), small enough to watch learn.

The chapter *Generative adversarial networks* reads this module. It holds

* the three losses of the chapter, written as in the text: the original **minimax** loss,
  the **non-saturating** generator loss of the same paper, and the **least-squares** loss
  of Mao et al. (2017) — :func:`discriminator_loss`, :func:`generator_loss`;
* the theory of section 2: :func:`optimal_discriminator` ``D*(x) = p_data / (p_data + p_g)``,
  :func:`pointwise_value` (the objective it maximises) and :func:`js_divergence`;
* the measurements of sections 3-5: :func:`histogram_js` (Jensen-Shannon divergence
  between two point clouds, estimated on a grid) and :func:`mode_coverage` (how many modes
  of a mixture the generator reaches);
* :class:`GANConfig` and :class:`GAN`: a generator and a discriminator (multilayer
  perceptrons from :mod:`genmech.nn`) with their alternating updates;
* :class:`GANLab`, the live 2D lab after GAN Lab (Kahng et al., 2019): besides the
  framework's controls it adds Step D and Step G (:meth:`GANLab.actions`), slow motion
  (:meth:`GANLab.substeps`) and "Show code" (:meth:`GANLab.code`);
* :func:`dirac_gan`, the one-parameter GAN of Mescheder et al. (2018) that shows why
  gradient play oscillates;
* :class:`DigitsGAN`, a fully connected GAN that draws scikit-learn's 8 x 8 digits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from . import data as gdata
from . import digits as gdigits
from .live import Choice, Demo, Slider
from .nn import mlp
from .plotting import COLORS, compact

LOSSES = ("minimax", "non-saturating", "least-squares")


def _check_loss(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")


# --------------------------------------------------------------------------- losses
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       loss: str = "non-saturating") -> torch.Tensor:
    """What the discriminator minimises, given its raw outputs (logits) on a batch.

    minimax / non-saturating (both train D the same way, D = sigmoid(logit)):
        -E[log D(x)] - E[log(1 - D(G(z)))]  =  E[softplus(-a_real)] + E[softplus(a_fake)]
    least-squares (Mao et al., 2017; D is the raw score, targets 1 for real, 0 for fake):
        1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]
    """
    _check_loss(loss)
    if loss == "least-squares":
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()
    # log sigmoid(a) = -softplus(-a) and log(1 - sigmoid(a)) = -softplus(a), computed stably
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, loss: str = "non-saturating") -> torch.Tensor:
    """What the generator minimises, given the discriminator's logits on generated samples.

    minimax:         E[log(1 - D(G(z)))]   = -E[softplus(a)]   (saturates when D(G(z)) -> 0)
    non-saturating: -E[log D(G(z))]        =  E[softplus(-a)]
    least-squares:   1/2 E[(D(G(z)) - 1)^2]
    """
    _check_loss(loss)
    if loss == "minimax":
        return -F.softplus(fake_logits).mean()
    if loss == "non-saturating":
        return F.softplus(-fake_logits).mean()
    return 0.5 * ((fake_logits - 1) ** 2).mean()


def generator_gradient_vs_d(d_values, loss: str) -> np.ndarray:
    """|d loss_G / d logit| for one generated sample that the discriminator scores ``d_values``.

    The logit is ``a = log(D / (1 - D))``. By the chain rule the minimax gradient is ``D``
    (vanishing when the discriminator rejects the sample, D -> 0) and the non-saturating
    one is ``1 - D`` (largest there). Computed by autograd, not from those formulas, so the
    figure of section 2 checks the derivation.
    """
    _check_loss(loss)
    d = torch.as_tensor(np.asarray(d_values, dtype=np.float64)).clamp(1e-12, 1 - 1e-12)
    a = torch.log(d / (1 - d)).requires_grad_(True)
    if loss == "least-squares":
        a = a.detach().sigmoid().requires_grad_(True)   # LSGAN scores the output itself
    grads = [torch.autograd.grad(generator_loss(ai.reshape(1), loss), ai)[0] for ai in a]
    return torch.stack(grads).abs().numpy()


# --------------------------------------------------------------------------- theory of section 2
def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))``; 1/2 where both densities vanish."""
    p_data, p_g = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities must be non-negative")
    total = p_data + p_g
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p_data / np.where(total > 0, total, 1), 0.5)


def pointwise_value(d, p_data, p_g) -> np.ndarray:
    """The integrand of the GAN value at one x: ``p_data log d + p_g log(1 - d)``."""
    d = np.clip(np.asarray(d, dtype=float), 1e-300, 1 - 1e-16)
    return np.asarray(p_data) * np.log(d) + np.asarray(p_g) * np.log1p(-d)


def js_divergence(p, q) -> float:
    """Jensen-Shannon divergence (natural log, in [0, log 2]) of two discrete distributions.

    ``JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m)`` with ``m = (p + q) / 2``; ``p`` and ``q``
    are normalised here; terms with zero mass contribute 0 (``0 log 0 = 0``).
    """
    p, q = np.asarray(p, dtype=float).ravel(), np.asarray(q, dtype=float).ravel()
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0 or (p < 0).any() or (q < 0).any():
        raise ValueError("p and q must be non-negative arrays of the same shape with positive mass")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a):
        nz = a > 0
        return float((a[nz] * np.log(a[nz] / m[nz])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def histogram_js(real, fake, extent, bins: int = 30) -> float:
    """JS divergence between two 2D point clouds, each binned on the same ``bins`` x ``bins`` grid.

    ``extent = (xmin, xmax, ymin, ymax)``; points outside it fall into the border bins, so
    a generator cannot hide mass off the grid. 0 means identical histograms, log 2 = 0.693
    disjoint ones.
    """
    edges = (np.linspace(extent[0], extent[1], bins + 1), np.linspace(extent[2], extent[3], bins + 1))

    def hist(points):
        p = np.asarray(torch.as_tensor(points).detach(), dtype=float)
        px = np.clip(p[:, 0], edges[0][0], edges[0][-1])
        py = np.clip(p[:, 1], edges[1][0], edges[1][-1])
        return np.histogram2d(px, py, bins=edges)[0]

    return js_divergence(hist(real), hist(fake))


@dataclass
class Coverage:
    """How a batch of samples covers the modes of a mixture."""

    modes: int               # modes that received at least their share threshold of samples
    total: int               # modes in the mixture
    high_quality: float      # fraction of samples within ``radius`` of some mode
    counts: np.ndarray       # samples within ``radius`` of each mode


def mode_coverage(samples, centers, radius: float = 0.25, min_share: float = 0.25) -> Coverage:
    """Count the modes a generator reaches (the metric of Metz et al., 2017, and later work).

    A sample is *high quality* when it lies within ``radius`` of its nearest centre (the
    ring's Gaussians have standard deviation 0.05, so 0.25 is five of them). A mode is
    *covered* when it holds at least ``min_share`` of its fair share ``n / len(centers)``
    of the samples: a few stray points do not count as covering a mode.
    """
    x = np.asarray(torch.as_tensor(samples).detach(), dtype=float)
    c = np.asarray(centers, dtype=float)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples {x.shape} and centers {c.shape} must be (n, d) and (k, d)")
    if radius <= 0 or not 0 < min_share <= 1:
        raise ValueError("radius must be positive and min_share in (0, 1]")
    dist = np.linalg.norm(x[:, None, :] - c[None, :, :], axis=-1)      # (n, k)
    nearest, close = dist.argmin(1), dist.min(1) <= radius
    counts = np.bincount(nearest[close], minlength=len(c))
    covered = int((counts >= min_share * len(x) / len(c)).sum())
    return Coverage(covered, len(c), float(close.mean()), counts)


# --------------------------------------------------------------------------- the model
@dataclass
class GANConfig:
    """Everything that defines a 2D GAN run (the lab's controls)."""

    dataset: str = "ring"           # a genmech.data density, or "yours" (your own points)
    loss: str = "non-saturating"    # one of LOSSES
    lr_d: float = 1e-3              # discriminator learning rate (Adam)
    lr_g: float = 1e-3              # generator learning rate (Adam)
    d_steps: int = 1                # discriminator updates per generator update
    hidden: int = 128               # units per hidden layer, both networks
    layers: int = 2                 # hidden layers, both networks
    noise_dim: int = 2              # dimension of the noise z ~ Uniform[-1, 1]^noise_dim
    batch: int = 256                # samples per update
    betas: tuple = (0.5, 0.999)     # Adam's betas; beta1 = 0.5 as in DCGAN (Radford et al.)


class GAN:
    """A generator ``G: z -> x`` and a discriminator ``D: x -> logit``, updated in turn.

    ``real`` is the training set, a tensor (n, dim); each update draws a fresh batch from
    it and fresh noise. :meth:`update_d` and :meth:`update_g` are one Adam step each;
    :meth:`step` is one round: ``d_steps`` discriminator updates, then one generator update.
    """

    def __init__(self, real: torch.Tensor, cfg: GANConfig, out_activation: str | None = None,
                 d_activation: str = "leaky_relu"):
        _check_loss(cfg.loss)
        self.real, self.cfg = real, cfg
        dim = real.shape[1]
        self.G = mlp([cfg.noise_dim] + [cfg.hidden] * cfg.layers + [dim], "relu", out_activation)
        self.D = mlp([dim] + [cfg.hidden] * cfg.layers + [1], d_activation)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.d_loss = self.g_loss = float("nan")

    def noise(self, n: int) -> torch.Tensor:
        return torch.rand(n, self.cfg.noise_dim) * 2 - 1                   # (n, noise_dim)

    def sample(self, n: int = 512, z: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.G(self.noise(n) if z is None else z)               # (n, dim)

    def real_batch(self) -> torch.Tensor:
        return self.real[torch.randint(len(self.real), (self.cfg.batch,))]  # (B, dim)

    def update_d(self) -> float:
        fake = self.sample(self.cfg.batch)                                 # no gradient into G
        loss = discriminator_loss(self.D(self.real_batch()), self.D(fake), self.cfg.loss)
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        self.d_loss = loss.item()
        return self.d_loss

    def update_g(self) -> float:
        loss = generator_loss(self.D(self.G(self.noise(self.cfg.batch))), self.cfg.loss)
        self.opt_g.zero_grad()
        loss.backward()
        self.opt_g.step()
        self.g_loss = loss.item()
        return self.g_loss

    def step(self) -> dict:
        for _ in range(self.cfg.d_steps):
            self.update_d()
        self.update_g()
        return {"d_loss": self.d_loss, "g_loss": self.g_loss}

    def set_learning_rates(self, lr_d: float, lr_g: float) -> None:
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g

    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's belief that ``x`` is real, in [0, 1]."""
        with torch.no_grad():
            out = self.D(x).squeeze(-1)
        return out.clamp(0, 1) if self.cfg.loss == "least-squares" else out.sigmoid()

    def generator_gradients(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated samples ``x = G(z)`` and ``-dL_G/dx``: where the loss pushes each sample."""
        x = self.sample(len(z), z).requires_grad_(True)
        # the sum, not the mean: each sample's own gradient, independent of the batch size
        loss = generator_loss(self.D(x), self.cfg.loss) * len(z)
        (grad,) = torch.autograd.grad(loss, x)
        return x.detach(), -grad


def train_gan(real: torch.Tensor, cfg: GANConfig, steps: int, seed: int = 0,
              every: int = 100, centers=None, extent=None):
    """Train a 2D GAN for ``steps`` rounds; every ``every`` rounds record modes covered and JS.

    Returns ``(gan, history)`` with history a dict of lists: ``step``, ``modes`` (when
    ``centers`` are given), ``js`` (when ``extent`` is given), ``g_grad`` (mean length of the
    generator's gradient on its samples), ``d_loss``, ``g_loss`` and ``samples`` (300
    generated samples, a numpy array (300, 2), at each measurement).
    """
    torch.manual_seed(seed)
    gan = GAN(real, cfg)
    hist = {"step": [], "modes": [], "js": [], "g_grad": [], "d_loss": [], "g_loss": [],
            "samples": []}
    for t in range(steps + 1):
        if t % every == 0:
            _evaluate(gan, hist, t, centers, extent)
        if t < steps:
            gan.step()
    return gan, hist


def _evaluate(gan: GAN, hist: dict, t: int, centers, extent, n: int = 1000) -> None:
    with torch.random.fork_rng():
        torch.manual_seed(12345 + t)
        fake = gan.sample(n)
        _, grad = gan.generator_gradients(gan.noise(256))
    hist["step"].append(t)
    hist["samples"].append(fake[:300].numpy())
    if centers is not None:
        hist["modes"].append(mode_coverage(fake, centers).modes)
    if extent is not None:
        hist["js"].append(histogram_js(gan.real, fake, extent))
    hist["g_grad"].append(float(grad.norm(dim=1).mean()))
    hist["d_loss"].append(gan.d_loss)
    hist["g_loss"].append(gan.g_loss)


def gradients_against_a_training_discriminator(real: torch.Tensor, cfg: GANConfig,
                                                d_updates: int = 600, every: int = 50,
                                                seed: int = 0) -> dict:
    """Freeze an untrained generator, train only the discriminator, and measure the length
    of the generator's gradient ``||dL_G / d(weights of G)||`` for the minimax and the
    non-saturating loss as the discriminator gets better (after Arjovsky & Bottou, 2017).

    Returns a dict of lists: ``d_updates``, ``minimax``, ``non-saturating``, ``d_fake``
    (the mean of D(G(z)) on the measuring batch).
    """
    torch.manual_seed(seed)
    gan = GAN(real, cfg)
    z = gan.noise(1000)                                                   # fixed measuring batch
    out = {"d_updates": [], "minimax": [], "non-saturating": [], "d_fake": []}
    for t in range(d_updates + 1):
        if t % every == 0:
            out["d_updates"].append(t)
            for loss in ("minimax", "non-saturating"):
                grads = torch.autograd.grad(generator_loss(gan.D(gan.G(z)), loss), list(gan.G.parameters()))
                out[loss].append(float(torch.sqrt(sum((g ** 2).sum() for g in grads))))
            out["d_fake"].append(float(gan.d_prob(gan.sample(len(z), z)).mean()))
        if t < d_updates:
            gan.update_d()
    return out


# --------------------------------------------------------------------------- oscillation
def dirac_gan(steps: int = 200, lr: float = 0.1, simultaneous: bool = False,
              start=(1.0, 1.0), loss: str = "minimax") -> np.ndarray:
    """The Dirac GAN (Mescheder et al., 2018): data is a point at 0, the generator a point
    at ``theta``, the discriminator ``D(x) = sigmoid(psi * x)``. Gradient play on ``loss``;
    returns the path of ``(theta, psi)``, shape ``(steps + 1, 2)``.

    With the minimax loss the vector field ``sigma(psi theta) (psi, -theta)`` is a rotation
    about the equilibrium (0, 0): simultaneous updates spiral outwards, alternating ones
    circle around it; neither converges.
    """
    theta = torch.tensor(float(start[0]), dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(float(start[1]), dtype=torch.float64, requires_grad=True)
    path = [(theta.item(), psi.item())]
    zero = torch.zeros((), dtype=torch.float64)
    for _ in range(steps):
        d_loss = discriminator_loss(psi * zero, psi * theta, loss)     # real point at x = 0
        (g_psi,) = torch.autograd.grad(d_loss, psi)
        if simultaneous:
            (g_theta,) = torch.autograd.grad(generator_loss(psi * theta, loss), theta)
            with torch.no_grad():
                psi -= lr * g_psi
                theta -= lr * g_theta
        else:
            with torch.no_grad():
                psi -= lr * g_psi
            (g_theta,) = torch.autograd.grad(generator_loss(psi * theta, loss), theta)
            with torch.no_grad():
                theta -= lr * g_theta
        path.append((theta.item(), psi.item()))
    return np.array(path)


# --------------------------------------------------------------------------- the 2D lab
HEATMAP = 40          # the discriminator heatmap is HEATMAP x HEATMAP
MANIFOLD_LINES = 13   # noise grid lines per direction
SHOWN = 400           # generated samples drawn
ARROWS = 60           # gradient arrows drawn
EVAL_EVERY = 25       # steps between measurements of JS and modes covered


def _points(points) -> torch.Tensor:
    p = np.asarray(points, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2:
        raise ValueError(f"points must be an array of shape (n, 2) with n >= 2, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("points must be finite numbers")
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

    def __init__(self, points=None, seed: int = 0, **hp):
        self.points = None if points is None else _points(points)
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

    def apply(self, changed):
        cfg = self.cfg
        cfg.loss, cfg.lr_d, cfg.lr_g, cfg.d_steps = (self.hp[k] for k in ("loss", "lr_d", "lr_g", "d_steps"))
        self.gan.set_learning_rates(cfg.lr_d, cfg.lr_g)

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
        fig = make_subplots(rows=1, cols=3, subplot_titles=("losses", "JS divergence (grid)",
                                                            "modes covered"),
                            horizontal_spacing=0.08)
        for i, (name, data) in enumerate(zip(LAB_CURVES, self.metric_frame())):
            col = {"d_loss": 1, "g_loss": 1, "js": 2, "modes": 3}[name]
            fig.add_scatter(mode="lines", name=name.replace("_", " "), row=1, col=col,
                            line=dict(color=COLORS[i], width=2), showlegend=col == 1, **data)
        if self.centers is not None:
            fig.update_yaxes(range=[0, len(self.centers) + 0.5], row=1, col=3)
        fig.update_yaxes(range=[0, math.log(2) + 0.02], row=1, col=2)
        fig.update_xaxes(title="step")
        fig.update_layout(height=260, margin=dict(l=40, r=10, t=40, b=40),
                          legend=dict(orientation="h", x=0, y=-0.35))
        return fig

    def metric_frame(self) -> list[dict]:
        """The four curves of :meth:`metric_figure`, in its trace order."""
        out = []
        for name in LAB_CURVES:
            s = self.metrics.series.get(name)
            out.append(dict(x=compact(s.steps if s else []), y=compact(s.values if s else [])))
        return out

    def figure(self):
        x0, x1, y0, y1 = self.extent
        fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.06,
                            subplot_titles=("D(x), real, generated and G's gradient",
                                            "the generator's manifold"))
        data = self.frame()
        xs, ys = np.linspace(x0, x1, HEATMAP), np.linspace(y0, y1, HEATMAP)
        fig.add_trace(go.Heatmap(x=compact(xs), y=compact(ys), colorscale="RdBu", zmin=0, zmax=1,
                                 name="D(x)", hoverinfo="skip", opacity=0.8,
                                 colorbar=dict(title="D(x)", len=0.8, thickness=12, x=-0.12),
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
        fig.update_layout(height=430, margin=dict(l=60, r=10, t=60, b=30),
                          legend=dict(orientation="h", x=0.5, xanchor="center", y=1.12, yanchor="bottom"))
        return fig

    def frame(self):
        """Heatmap z, (real: fixed), generated, arrows, (real again), manifold lines."""
        gan = self.gan
        x0, x1, y0, y1 = self.extent
        X, Y = np.meshgrid(np.linspace(x0, x1, HEATMAP), np.linspace(y0, y1, HEATMAP))
        grid = torch.as_tensor(np.stack([X.ravel(), Y.ravel()], 1), dtype=torch.float32)
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
        d_loss = {"least-squares": "0.5 * ((D(real) - 1) ** 2).mean() + 0.5 * (D(fake) ** 2).mean()"}.get(
            c.loss, "F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()   # -log D(x) - log(1 - D(G(z)))")
        g_loss = {"minimax": "-F.softplus(D(G(z))).mean()                # log(1 - D(G(z)))",
                  "non-saturating": "F.softplus(-D(G(z))).mean()                # -log D(G(z))",
                  "least-squares": "0.5 * ((D(G(z)) - 1) ** 2).mean()"}[c.loss]
        hidden = ", ".join([str(c.hidden)] * c.layers)
        return f"""import torch
import torch.nn.functional as F
import genmech.data
from genmech.nn import mlp

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
        fig = gdigits.image_grid(self.gan.sample(self.SHOWN, self.z_fixed), ncols=10,
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
