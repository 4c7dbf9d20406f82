"""Generators put to work on images: asking for a class, filling a hole, adding pixels.

The chapter *Applications*, section *Images*, reads this module. On scikit-learn's 8 x 8
digits (:mod:`genmech.digits`) it implements

* :class:`ConditionalVAE` and :func:`train_cvae`: the conditional VAE of Sohn, Lee & Yan
  (2015) — encoder q(z | x, y) and decoder p(x | z, y) both read the class y as a one-hot
  vector — trained on the ELBO pieces of :mod:`genmech.vae`; :func:`draw` asks it for a
  digit and :func:`class_hit_rate` lets the judge of :mod:`genmech.digits` check the answer;
* :func:`inpaint`: complete the hidden pixels of a digit by searching the latent space of a
  VAE for a code whose decoding fits the visible pixels (Yeh et al., 2017), and two
  baselines, :func:`mean_fill` and :func:`nearest_fill`;
* :func:`downsample`, :func:`bicubic_upsample`, :func:`train_upsampler` and :func:`psnr`:
  super-resolution from 4 x 4 to 8 x 8 with a small network (Dong et al., 2016) against
  bicubic interpolation (Keys, 1981);
* :func:`ink`, :func:`attribute_vector` and :func:`edit`: moving along a direction in the
  latent space that thickens strokes (White, 2016).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import digits
from .nets import fit, mlp
from .vae import Config, check_images, conditional_elbo_terms, shuffled_batches

CLASSES = 10


# --------------------------------------------------------------------------- the conditional VAE
def one_hot(labels) -> torch.Tensor:
    """Class labels (ints 0-9, one or many) as one-hot rows; an unknown class is an error."""
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"classes are whole numbers 0-9, got {labels.tolist()!r}")
    labels = labels.reshape(-1).long()
    bad = labels[(labels < 0) | (labels >= CLASSES)]
    if len(bad):
        raise ValueError(f"unknown class {bad[0].item()}: the digits are the classes 0-9")
    return F.one_hot(labels, CLASSES).float()


class ConditionalVAE(nn.Module):
    """q(z | x, y) = N(μ(x, y), diag σ²(x, y)), p(x | z, y) Bernoulli, prior p(z) = N(0, I).

    Both networks read the class as a one-hot vector concatenated to their input. The code z
    no longer needs to say *which* digit it is — y says that — so it is free to hold the
    rest: slant, thickness, size."""

    def __init__(self, cfg: Config | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else Config(latent=4)
        self.encoder = mlp([digits.PIXELS + CLASSES, cfg.hidden, cfg.hidden, 2 * cfg.latent])
        self.decoder = mlp([cfg.latent + CLASSES, cfg.hidden, cfg.hidden, digits.PIXELS])

    def encode(self, x, y):                 # (B, 64), (B,) -> μ (B, L), log σ² (B, L)
        return self.encoder(torch.cat([x, one_hot(y)], 1)).chunk(2, dim=-1)

    def decode(self, z, y):                 # (B, L), (B,) -> (B, 64) pixel logits
        return self.decoder(torch.cat([z, one_hot(y)], 1))

    def loss(self, x, y, beta: float = 1.0):
        """−ELBO per image: E_q[−log p(x | z, y)] + β KL(q(z | x, y) || N(0, I)); shape (B,).
        The two terms are :func:`genmech.vae.conditional_elbo_terms`'s (one draw of z)."""
        recon, kl = conditional_elbo_terms(self, x, y)
        return recon + beta * kl


def train_cvae(cfg: Config | None = None, steps: int = 3000, data=None):
    """Train a :class:`ConditionalVAE` on the training digits and their labels; returns
    ``(model, losses)``."""
    cfg = cfg if cfg is not None else Config(latent=4)
    X, y = (digits.load()[0], digits.load()[1]) if data is None else data
    X = check_images(X)
    torch.manual_seed(cfg.seed)
    model = ConditionalVAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    batches = shuffled_batches(len(X), cfg.batch, torch.Generator().manual_seed(cfg.seed))

    def batch_loss():
        b = next(batches)
        return model.loss(X[b], y[b], cfg.beta).mean()

    return model.eval(), fit(opt, batch_loss, steps)


@torch.no_grad()
def draw(model: ConditionalVAE, label, n: int = 1, seed: int = 0) -> torch.Tensor:
    """"Draw me a ``label``": ``n`` images decoded from z ~ N(0, I) with the class fixed; (n, 64)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    labels = one_hot(label).argmax(1)
    if len(labels) == 1:
        labels = labels.expand(n)
    elif len(labels) != n:
        raise ValueError(f"give one class or n = {n} classes, got {len(labels)}")
    z = torch.randn(n, model.cfg.latent, generator=torch.Generator().manual_seed(seed))
    return torch.sigmoid(model.decode(z, labels))


def class_hit_rate(model: ConditionalVAE, n_per_class: int = 100, seed: int = 0) -> tuple[float, torch.Tensor]:
    """The share of drawn images the judge (:func:`genmech.digits.judge`) assigns to the class
    asked for, overall and per class (a tensor of 10)."""
    labels = torch.arange(CLASSES).repeat_interleave(n_per_class)
    images = draw(model, labels, len(labels), seed)
    hits = torch.as_tensor(digits.judge(images).predictions) == labels
    return hits.float().mean().item(), hits.float().reshape(CLASSES, n_per_class).mean(1)


# --------------------------------------------------------------------------- inpainting
def check_mask(mask, n: int) -> torch.Tensor:
    """A visibility mask (True = pixel seen) of shape (64,) or (n, 64), as (n, 64) booleans."""
    mask = torch.as_tensor(mask, dtype=torch.bool)
    if mask.shape[-1] != digits.PIXELS or mask.ndim > 2:
        raise ValueError(f"mask must have shape (64,) or (n, 64), got {tuple(mask.shape)}")
    mask = mask.expand(n, digits.PIXELS)
    if not mask.any(1).all():
        raise ValueError("an image with every pixel masked has nothing to complete from: "
                         "leave some pixels visible")
    return mask


def half_mask(side: str = "bottom") -> torch.Tensor:
    """A mask that hides one half of an 8 x 8 image (True = visible)."""
    m = torch.ones(digits.SIDE, digits.SIDE, dtype=torch.bool)
    halves = {"bottom": (slice(4, None), slice(None)), "top": (slice(None, 4), slice(None)),
              "left": (slice(None), slice(None, 4)), "right": (slice(None), slice(4, None))}
    if side not in halves:
        raise ValueError(f"side must be one of {', '.join(halves)}, got {side!r}")
    m[halves[side]] = False
    return m.reshape(-1)


def inpaint(model, x, mask, steps: int = 150, restarts: int = 8, lr: float = 0.1, seed: int = 0):
    """Complete the hidden pixels of images ``x`` (n, 64) with a trained VAE's decoder.

    Search the latent space for the code that best explains the visible pixels,

        z* = argmin_z  Σ_visible BCE(x_i, decoder(z)_i) + ½ ‖z‖²,

    (the negative log of p(x_visible | z) p(z): fit the evidence, stay where the prior puts
    its mass), by Adam from ``restarts`` random starts per image, keeping the best. The
    visible pixels are returned unchanged; the hidden ones are the decoding of z*.
    """
    x = check_images(x)
    mask = check_mask(mask, len(x))
    gen = torch.Generator().manual_seed(seed)
    n, L = len(x), model.cfg.latent
    z = torch.randn(restarts, n, L, generator=gen).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    visible = mask.float()
    for _ in range(steps):
        logits = model.decode(z)                                             # (R, n, 64)
        fit = (F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
               * visible).sum(-1)
        objective = fit + 0.5 * (z ** 2).sum(-1)                             # (R, n)
        opt.zero_grad()
        objective.sum().backward()
        opt.step()
    with torch.no_grad():
        logits = model.decode(z)
        fit = (F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
               * visible).sum(-1) + 0.5 * (z ** 2).sum(-1)
        best = fit.argmin(0)                                                 # (n,)
        guess = torch.sigmoid(logits[best, torch.arange(n)])
    return torch.where(mask, x, guess)


def mean_fill(x, mask, train) -> torch.Tensor:
    """Baseline: hidden pixels set to the average training image."""
    x = check_images(x)
    mask = check_mask(mask, len(x))
    return torch.where(mask, x, check_images(train).mean(0).expand_as(x))


def nearest_fill(x, mask, train) -> torch.Tensor:
    """Baseline: hidden pixels copied from the training image closest on the visible pixels."""
    x, train = check_images(x), check_images(train)
    mask = check_mask(mask, len(x))
    out = x.clone()
    for i in range(len(x)):
        d = ((train - x[i]) ** 2 * mask[i]).sum(1)
        out[i] = torch.where(mask[i], x[i], train[d.argmin()])
    return out


def hidden_mse(completed, truth, mask) -> float:
    """Mean squared error over the hidden pixels only."""
    completed, truth = check_images(completed), check_images(truth)
    hidden = ~check_mask(mask, len(truth))
    return float(((completed - truth) ** 2)[hidden].mean())


# --------------------------------------------------------------------------- super-resolution
def downsample(x) -> torch.Tensor:
    """8 x 8 images (n, 64) -> 4 x 4 (n, 16): each pixel the mean of a 2 x 2 block."""
    x = check_images(x)
    return F.avg_pool2d(x.reshape(-1, 1, digits.SIDE, digits.SIDE), 2).reshape(len(x), -1)


def _check_low(low) -> torch.Tensor:
    low = torch.as_tensor(low, dtype=torch.float32)
    if low.ndim != 2 or low.shape[1] != 16:
        raise ValueError(f"low-resolution images must have shape (n, 16), got {tuple(low.shape)}")
    return low


def bicubic_upsample(low) -> torch.Tensor:
    """4 x 4 (n, 16) -> 8 x 8 (n, 64) by bicubic interpolation (Keys' cubic, a = −0.75 in
    PyTorch), clipped to [0, 1]."""
    low = _check_low(low)
    up = F.interpolate(low.reshape(-1, 1, 4, 4), scale_factor=2, mode="bicubic", align_corners=False)
    return up.clamp(0, 1).reshape(len(low), -1)


def nearest_upsample(low) -> torch.Tensor:
    """4 x 4 -> 8 x 8 by repeating each pixel in a 2 x 2 block."""
    low = _check_low(low)
    return F.interpolate(low.reshape(-1, 1, 4, 4), scale_factor=2, mode="nearest").reshape(len(low), -1)


def train_upsampler(steps: int = 2000, hidden: int = 128, seed: int = 0, data=None):
    """A small network 16 -> hidden -> hidden -> 64 (sigmoid) trained to map each training
    digit's 4 x 4 version back to its 8 x 8 original (squared error); returns ``(model, losses)``."""
    X = check_images(digits.load()[0] if data is None else data)
    low = downsample(X)
    torch.manual_seed(seed)
    model = mlp([16, hidden, hidden, digits.PIXELS], out_activation="sigmoid")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = shuffled_batches(len(X), 128, torch.Generator().manual_seed(seed))
    losses = []
    for _ in range(steps):
        b = next(batches)
        loss = F.mse_loss(model(low[b]), X[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


def psnr(estimate, truth) -> float:
    """Peak signal-to-noise ratio in dB for intensities in [0, 1]: 10 log10(1 / MSE)."""
    mse = float(((check_images(estimate) - check_images(truth)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


# --------------------------------------------------------------------------- editing
def ink(x) -> torch.Tensor:
    """How much ink a digit uses: the mean intensity of its pixels, per image."""
    return check_images(x).mean(1)


@torch.no_grad()
def attribute_vector(model: ConditionalVAE, x, y, quantile: float = 0.25) -> torch.Tensor:
    """The direction in code space from thin to thick strokes.

    Within each class, take the codes μ(x, y) of the quarter of digits with the most ink and
    of the quarter with the least, subtract their means, and average over the classes. The
    class is held by y, so the difference is about the stroke, not about which digit it is.
    """
    x, y = check_images(x), torch.as_tensor(y)
    mu = model.encode(x, y)[0]
    amount = ink(x)
    diffs = []
    for c in range(CLASSES):
        sel = y == c
        lo, hi = amount[sel].quantile(quantile), amount[sel].quantile(1 - quantile)
        diffs.append(mu[sel][amount[sel] >= hi].mean(0) - mu[sel][amount[sel] <= lo].mean(0))
    return torch.stack(diffs).mean(0)


@torch.no_grad()
def edit(model: ConditionalVAE, x, y, direction, amounts) -> torch.Tensor:
    """Decode μ(x, y) + a · direction for each a in ``amounts``: (len(amounts), n, 64)."""
    x, y = check_images(x), torch.as_tensor(y)
    mu = model.encode(x, y)[0]
    return torch.stack([torch.sigmoid(model.decode(mu + float(a) * direction, y)) for a in amounts])
