"""Generative adversarial networks (Goodfellow et al., 2014), small enough to watch learn.

The chapter *Generative adversarial networks* reads this module. It holds

* the losses of the chapter, written as in the text: the original **minimax** loss,
  the **non-saturating** generator loss of the same paper, the **least-squares** loss
  of Mao et al. (2017) — :func:`discriminator_loss`, :func:`generator_loss` — and the
  **Wasserstein loss with gradient penalty** (WGAN-GP; Arjovsky et al., 2017; Gulrajani et
  al., 2017) of section 6: :func:`critic_loss`, :func:`gradient_penalty`, with the weight
  clipping it replaced (:func:`clip_weights`), :func:`train_critic` (a critic alone,
  estimating the Wasserstein-1 distance) and :func:`wasserstein_1d` (the exact distance
  between two 1D samples);
* the theory of section 2: :func:`optimal_discriminator` ``D*(x) = p_data / (p_data + p_g)``,
  :func:`pointwise_value` (the objective it maximises) and :func:`js_divergence`;
* the measurements of sections 3-5: :func:`histogram_js` (Jensen-Shannon divergence
  between two point clouds, estimated on a grid) and :func:`mode_coverage` (how many modes
  of a mixture the generator reaches);
* :class:`GANConfig` and :class:`GAN`: a generator and a discriminator (multilayer
  perceptrons, :func:`genmech.nets.mlp`) with their alternating updates; :func:`train_gan`
  and :func:`gradients_against_a_training_discriminator`, the experiments of section 3;
* :func:`dcgan_generator` and :func:`dcgan_discriminator`: convolutional networks for the
  8 x 8 digits after the DCGAN rules of Radford, Metz & Chintala (2016), which :class:`GAN`
  trains when passed as ``G`` and ``D`` (their sizes: :func:`genmech.nets.count_parameters`);
* :func:`dirac_gan`, the one-parameter GAN of Mescheder et al. (2018) that shows why
  gradient play oscillates.

The chapter's demos are in :mod:`genmech.gan_demos`: the live 2D lab after GAN Lab
(Kahng et al., 2019) and a GAN that draws scikit-learn's 8 x 8 digits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .nets import count_parameters, mlp, set_learning_rate  # count_parameters: shared, re-exported

LOSSES = ("minimax", "non-saturating", "least-squares", "wgan-gp")


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
    wgan-gp (D is the critic's raw score f; the gradient penalty, which needs the critic
    itself, is added by :func:`critic_loss`):
        E[f(G(z))] - E[f(x)]          (minus the critic's estimate of W_1)
    """
    _check_loss(loss)
    if loss == "wgan-gp":
        return fake_logits.mean() - real_logits.mean()
    if loss == "least-squares":
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()
    # log sigmoid(a) = -softplus(-a) and log(1 - sigmoid(a)) = -softplus(a), computed stably
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, loss: str = "non-saturating") -> torch.Tensor:
    """What the generator minimises, given the discriminator's logits on generated samples.

    minimax:         E[log(1 - D(G(z)))]   = -E[softplus(a)]   (saturates when D(G(z)) -> 0)
    non-saturating: -E[log D(G(z))]        =  E[softplus(-a)]
    least-squares:   1/2 E[(D(G(z)) - 1)^2]
    wgan-gp:        -E[f(G(z))]              (f the critic's raw score)
    """
    _check_loss(loss)
    if loss == "wgan-gp":
        return -fake_logits.mean()
    if loss == "minimax":
        return -F.softplus(fake_logits).mean()
    if loss == "non-saturating":
        return F.softplus(-fake_logits).mean()
    return 0.5 * ((fake_logits - 1) ** 2).mean()


# --------------------------------------------------------------------------- Wasserstein (section 6)
def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """``E[(||grad_x D(x_hat)|| - 1)^2]`` at interpolates ``x_hat = eps x + (1 - eps) x_fake``.

    Gulrajani et al. (2017): each real sample is paired with a generated one and ``eps ~
    Uniform[0, 1]`` is drawn per pair (pass ``eps``, shape (B,), to fix it). The gradient is
    taken per sample, so ``D`` must score each sample alone (no batch norm in a critic). The
    graph is kept (``create_graph``) so that the penalty trains the critic's weights.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the "
                         "same shape: the penalty pairs each real sample with one generated sample")
    if eps is None:
        eps = torch.rand(len(real))
    eps = eps.reshape(-1, *[1] * (real.dim() - 1))                     # (B, 1, ...)
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def critic_loss(D, real: torch.Tensor, fake: torch.Tensor, gp_weight: float = 10.0) -> torch.Tensor:
    """What the WGAN-GP critic minimises: ``E[f(G(z))] - E[f(x)] + lambda E[(||grad f(x_hat)|| - 1)^2]``."""
    if not gp_weight >= 0:
        raise ValueError(f"gp_weight (lambda) must be a non-negative number, got {gp_weight!r}")
    return discriminator_loss(D(real), D(fake), "wgan-gp") + gp_weight * gradient_penalty(D, real, fake)


def clip_weights(net, c: float) -> None:
    """The original WGAN's constraint (Arjovsky et al., 2017): clamp every weight to [-c, c]."""
    if not c > 0:
        raise ValueError(f"the clipping bound c must be positive, got {c!r}")
    with torch.no_grad():
        for p in net.parameters():
            p.clamp_(-c, c)


def wasserstein_1d(x, y) -> float:
    """The exact Wasserstein-1 distance between two 1D samples of the same size: the mean
    ``|x_(i) - y_(i)|`` of the sorted samples (the optimal plan matches them in order)."""
    x, y = np.sort(np.asarray(x, dtype=float).ravel()), np.sort(np.asarray(y, dtype=float).ravel())
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty samples of the same size, got {len(x)} and {len(y)}")
    return float(np.abs(x - y).mean())


CONSTRAINTS = ("gradient-penalty", "clipping")


def train_critic(real: torch.Tensor, fake: torch.Tensor, constraint: str = "gradient-penalty",
                 steps: int = 500, c: float = 0.01, gp_weight: float = 10.0, hidden: int = 64,
                 lr: float = 1e-3, batch: int = 256, seed: int = 0) -> dict:
    """Train a critic alone to separate two fixed samples, under ``constraint``:
    ``"gradient-penalty"`` (WGAN-GP) or ``"clipping"`` (weights clamped to [-c, c] after each
    step, as in the original WGAN, which used RMSProp; both use Adam here).

    Returns a dict: ``critic`` (the MLP), ``estimate`` (``E f(real) - E f(fake)`` on the whole
    samples: the critic's estimate of W_1), ``grad_norm`` (``||grad f||`` at 1,000 interpolates,
    an array) and ``at_bound`` (the fraction of weights within 1 % of +-c; clipping only).
    """
    if constraint not in CONSTRAINTS:
        raise ValueError(f"unknown constraint {constraint!r}; choose one of {', '.join(CONSTRAINTS)}")
    torch.manual_seed(seed)
    f = mlp([real.shape[1], hidden, hidden, hidden, 1], "leaky_relu")
    opt = torch.optim.Adam(f.parameters(), lr=lr, betas=(0.5, 0.9))
    for _ in range(steps):
        x = real[torch.randint(len(real), (batch,))]
        y = fake[torch.randint(len(fake), (batch,))]
        if constraint == "clipping":
            loss = discriminator_loss(f(x), f(y), "wgan-gp")
        else:
            loss = critic_loss(f, x, y, gp_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if constraint == "clipping":
            clip_weights(f, c)
    with torch.no_grad():
        estimate = float(f(real).mean() - f(fake).mean())
    n = min(1000, len(real), len(fake))
    eps = torch.rand(n, 1)
    x_hat = (eps * real[:n] + (1 - eps) * fake[:n]).requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x_hat).sum(), x_hat)
    weights = torch.cat([m.weight.detach().ravel() for m in f if isinstance(m, nn.Linear)])
    at_bound = float((weights.abs() >= 0.99 * c).float().mean()) if constraint == "clipping" else float("nan")
    return {"critic": f, "estimate": estimate, "grad_norm": grad.norm(dim=1).numpy(), "at_bound": at_bound}


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
    gp_weight: float = 10.0         # lambda of the gradient penalty (loss "wgan-gp" only)


class GAN:
    """A generator ``G: z -> x`` and a discriminator ``D: x -> logit``, updated in turn.

    ``real`` is the training set, a tensor (n, dim); each update draws a fresh batch from
    it and fresh noise. :meth:`update_d` and :meth:`update_g` are one Adam step each;
    :meth:`step` is one round: ``d_steps`` discriminator updates, then one generator update.
    With the loss ``"wgan-gp"`` the discriminator is a critic and its update minimises
    :func:`critic_loss`.
    """

    def __init__(self, real: torch.Tensor, cfg: GANConfig, out_activation: str | None = None,
                 d_activation: str = "leaky_relu", G: nn.Module | None = None,
                 D: nn.Module | None = None):
        _check_loss(cfg.loss)
        self.real, self.cfg = real, cfg
        dim = real.shape[1]
        # G and D default to multilayer perceptrons; pass your own networks (e.g. the
        # convolutional ones of dcgan_generator / dcgan_discriminator) to train them the same way
        self.G = G if G is not None else mlp([cfg.noise_dim] + [cfg.hidden] * cfg.layers + [dim],
                                             "relu", out_activation)
        self.D = D if D is not None else mlp([dim] + [cfg.hidden] * cfg.layers + [1], d_activation)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.d_loss = self.g_loss = float("nan")
        self.critic_mid = 0.0   # wgan-gp: midpoint of the critic's mean scores, last update

    def noise(self, n: int) -> torch.Tensor:
        return torch.rand(n, self.cfg.noise_dim) * 2 - 1                   # (n, noise_dim)

    def sample(self, n: int = 512, z: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.G(self.noise(n) if z is None else z)               # (n, dim)

    def real_batch(self) -> torch.Tensor:
        return self.real[torch.randint(len(self.real), (self.cfg.batch,))]  # (B, dim)

    def update_d(self) -> float:
        fake = self.sample(self.cfg.batch)                                 # no gradient into G
        real = self.real_batch()
        if self.cfg.loss == "wgan-gp":
            real_scores, fake_scores = self.D(real), self.D(fake)
            loss = (discriminator_loss(real_scores, fake_scores, "wgan-gp")
                    + self.cfg.gp_weight * gradient_penalty(self.D, real, fake))
            self.critic_mid = 0.5 * (real_scores.mean() + fake_scores.mean()).item()
        else:
            loss = discriminator_loss(self.D(real), self.D(fake), self.cfg.loss)
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
        set_learning_rate(self.opt_d, lr_d)
        set_learning_rate(self.opt_g, lr_g)

    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's belief that ``x`` is real, in [0, 1].

        A Wasserstein critic's score is no probability and has no fixed offset (adding a
        constant changes neither loss), so for ``"wgan-gp"`` this is ``sigmoid(f(x) - m)``,
        with ``m`` the midpoint of the critic's mean scores on the real and the generated
        batch of its last update: above 1/2 where it scores like the real data."""
        with torch.no_grad():
            out = self.D(x).squeeze(-1)
        if self.cfg.loss == "wgan-gp":
            return (out - self.critic_mid).sigmoid()
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



# --------------------------------------------------------------------------- convolutional (DCGAN)
def _check_width(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def dcgan_generator(noise_dim: int = 16, channels: int = 64) -> nn.Sequential:
    """A DCGAN-style generator for 8 x 8 images (Radford, Metz & Chintala, 2016).

    ``z`` (n, noise_dim) -> Linear -> a (channels, 2, 2) map -> transposed convolution
    (kernel 4, stride 2, padding 1) to (channels/2, 4, 4) -> the same to (1, 8, 8) -> sigmoid,
    with batch norm and ReLU after every layer but the last. A transposed convolution with
    kernel k, stride s and padding p maps a side n to ``(n - 1) s - 2p + k``: 2 -> 4 -> 8.
    The output is flattened to (n, 64), pixels in [0, 1], like :func:`genmech.digits.load`.
    """
    _check_width("noise_dim", noise_dim)
    _check_width("channels", channels)
    if channels < 2:
        raise ValueError(f"channels must be at least 2 (the second layer has channels // 2), got {channels}")
    half = channels // 2
    return nn.Sequential(
        nn.Linear(noise_dim, channels * 2 * 2),
        nn.Unflatten(1, (channels, 2, 2)),                                          # (n, C, 2, 2)
        nn.BatchNorm2d(channels), nn.ReLU(),
        nn.ConvTranspose2d(channels, half, kernel_size=4, stride=2, padding=1),    # (n, C/2, 4, 4)
        nn.BatchNorm2d(half), nn.ReLU(),
        nn.ConvTranspose2d(half, 1, kernel_size=4, stride=2, padding=1),           # (n, 1, 8, 8)
        nn.Sigmoid(),
        nn.Flatten(),                                                               # (n, 64)
    )


def dcgan_discriminator(channels: int = 32, slope: float = 0.2) -> nn.Sequential:
    """A DCGAN-style discriminator for 8 x 8 images: strided convolutions, no pooling.

    (n, 64) -> (n, 1, 8, 8) -> conv (kernel 4, stride 2, padding 1) to (channels, 4, 4) ->
    the same to (2 channels, 2, 2) -> Linear -> one logit, with leaky ReLU (negative slope
    ``slope``, 0.2 in the paper) after each convolution. A convolution maps a side n to
    ``floor((n + 2p - k) / s) + 1``: 8 -> 4 -> 2. The stride, not a pooling layer, halves
    the image. No batch norm, so that each image is scored alone.
    """
    _check_width("channels", channels)
    if not 0 <= slope < 1:
        raise ValueError(f"the leaky ReLU's slope must be in [0, 1), got {slope!r}")
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),                                                 # (n, 1, 8, 8)
        nn.Conv2d(1, channels, kernel_size=4, stride=2, padding=1),                # (n, C, 4, 4)
        nn.LeakyReLU(slope),
        nn.Conv2d(channels, 2 * channels, kernel_size=4, stride=2, padding=1),     # (n, 2C, 2, 2)
        nn.LeakyReLU(slope),
        nn.Flatten(),
        nn.Linear(2 * channels * 2 * 2, 1),                                        # (n, 1) logit
    )


