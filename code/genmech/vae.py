"""Autoencoders and variational autoencoders on scikit-learn's 8 x 8 digits.

The chapter *Variational autoencoders* reads this module. It implements the VAE of
Kingma & Welling (2014, "Auto-Encoding Variational Bayes") and Rezende, Mohamed &
Wierstra (2014), with the β weight of Higgins et al. (2017, "β-VAE"):

* :class:`Autoencoder`: a plain encoder-decoder through a bottleneck (section 1);
* :func:`diagonal_gaussian_kl`, :func:`reparameterize`, :func:`bernoulli_nll` and :func:`elbo_terms`:
  the pieces of the evidence lower bound, written as in the text (sections 2 and 3);
* :func:`gradient_variance`: the reparameterization and score-function (REINFORCE,
  Williams 1992) gradient estimators side by side on a one-dimensional problem (section 3);
* :class:`VAE` and :func:`train_vae` (section 4);
* :func:`interpolate`, :func:`prior_samples` and :func:`decode_mean`, which walk through
  the learned latent space (section 5);
* section 6, beyond the basic VAE: a Gaussian decoder (``Config.decoder_std``,
  :func:`gaussian_nll`), :func:`decoder_sample`, :func:`posterior_weighted_mean` and
  :func:`sharpness`, which show why samples blur; :func:`conditional_elbo_terms`, the ELBO
  of the conditional VAE of Sohn, Lee & Yan (2015), whose model is
  :class:`genmech.conditional.ConditionalVAE`; and the VQ-VAE of van den Oord, Vinyals &
  Kavukcuoglu (2017): :func:`quantize`, :func:`straight_through`, :func:`vq_losses`,
  :class:`VQVAE`, :func:`train_vqvae` and :func:`codebook_perplexity`.

The chapter's views are in :mod:`genmech.vae_demos`: the training demo with a β slider
(:class:`~genmech.vae_demos.VAEDemo`), the latent map and the latent explorer.

Pixels are intensities in [0, 1] (``genmech.digits.load``). The decoder outputs one logit
per pixel and the reconstruction term is the Bernoulli cross-entropy, as in Kingma &
Welling's MNIST experiments. For grey levels that is a cross-entropy, not the log-density
of a normalised distribution over [0, 1]; :func:`entropy_floor` gives the value a perfect
decoder would reach, so the numbers can be read honestly.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import digits
from .nets import mlp


# --------------------------------------------------------------------------- configuration
@dataclass
class Config:
    """Sizes and training settings shared by the autoencoder and the VAE."""

    latent: int = 2          # dimension of the code z (2: we can draw it)
    hidden: int = 128        # units in each of the two hidden layers of encoder and decoder
    beta: float = 1.0        # weight of the KL term (1: the true ELBO; Higgins et al. 2017)
    lr: float = 3e-3         # Adam's learning rate
    batch: int = 128         # images per step
    seed: int = 0
    decoder_std: float | None = None   # None: Bernoulli pixels; s > 0: Gaussian pixels N(mean, s²)

    def __post_init__(self):
        for name in ("latent", "hidden", "batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (isinstance(self.beta, (int, float)) and self.beta >= 0 and math.isfinite(self.beta)):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        s = self.decoder_std
        if s is not None and not (isinstance(s, (int, float)) and not isinstance(s, bool)
                                  and s > 0 and math.isfinite(s)):
            raise ValueError(f"decoder_std must be None (Bernoulli pixels) or a positive "
                             f"standard deviation, got {s!r}")


def check_images(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 2 or x.shape[1] != digits.PIXELS:
        raise ValueError(f"images must have shape (n, {digits.PIXELS}), got {tuple(x.shape)}")
    return x


# --------------------------------------------------------------------------- the plain autoencoder
class Autoencoder(nn.Module):
    """x (64 pixels) -> encoder -> z (``latent`` numbers) -> decoder -> 64 pixel logits."""

    def __init__(self, cfg: Config | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else Config()   # a new default each time
        self.encoder = mlp([digits.PIXELS, cfg.hidden, cfg.hidden, cfg.latent])
        self.decoder = mlp([cfg.latent, cfg.hidden, cfg.hidden, digits.PIXELS])

    def encode(self, x):                 # (B, 64) -> (B, latent)
        return self.encoder(x)

    def decode(self, z):                 # (B, latent) -> (B, 64) pixel logits
        return self.decoder(z)

    def reconstruct(self, x):            # (B, 64) -> (B, 64) intensities in [0, 1]
        return torch.sigmoid(self.decode(self.encode(x)))

    def loss(self, x):
        """Per-image reconstruction cross-entropy (nats), shape (B,)."""
        return bernoulli_nll(self.decode(self.encode(x)), x)


# --------------------------------------------------------------------------- ELBO pieces
def diagonal_gaussian_kl(mu_q, logvar_q, mu_p=0.0, logvar_p=0.0) -> torch.Tensor:
    """KL( N(mu_q, diag exp(logvar_q)) || N(mu_p, diag exp(logvar_p)) ), summed over the last axis.

    Per dimension: ½ [ log σp² − log σq² + (σq² + (μq − μp)²) / σp² − 1 ]. With the prior
    N(0, I) (the defaults) this is ½ Σ (σq² + μq² − 1 − log σq²).

    The same divergence as :func:`genmech.probability.gaussian_kl` (one dimension, floats,
    parameterised by standard deviations), here on tensors of means and log-variances, as
    an encoder outputs them, and summed over independent dimensions.
    """
    mu_q, logvar_q = torch.as_tensor(mu_q), torch.as_tensor(logvar_q)
    mu_p = torch.as_tensor(mu_p, dtype=mu_q.dtype)
    logvar_p = torch.as_tensor(logvar_p, dtype=mu_q.dtype)
    if mu_q.shape != logvar_q.shape:
        raise ValueError(f"mu_q and logvar_q must have the same shape, got "
                         f"{tuple(mu_q.shape)} and {tuple(logvar_q.shape)}")
    per_dim = 0.5 * (logvar_p - logvar_q
                     + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0)
    return per_dim.sum(-1)


def reparameterize(mu, logvar, eps=None) -> torch.Tensor:
    """z = μ + σ ⊙ ε with ε ~ N(0, I): a sample of q(z|x) that gradients can flow through."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got "
                         f"{tuple(mu.shape)} and {tuple(logvar.shape)}")
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def bernoulli_nll(logits, x) -> torch.Tensor:
    """−log p(x|z) for independent Bernoulli pixels with probabilities sigmoid(logits), per image.

    Summed over the 64 pixels, so the unit is nats per image; shape (B,).
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def gaussian_nll(mean, x, std: float) -> torch.Tensor:
    """−log p(x|z) for independent Gaussian pixels N(mean, std²), per image; shape (B,).

    = ‖x − mean‖² / (2 std²) + (64 / 2) log(2π std²): with the standard deviation fixed, a
    squared error plus a constant.
    """
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    sq = ((x - mean) ** 2).sum(-1)
    return sq / (2 * std**2) + 0.5 * x.shape[-1] * math.log(2 * math.pi * std**2)


def reconstruction_nll(model, logits, x) -> torch.Tensor:
    """−log p(x|z) under ``model``'s pixel model: Bernoulli, or Gaussian with mean
    sigmoid(logits) when ``model.cfg.decoder_std`` is set; per image, shape (B,)."""
    std = getattr(model.cfg, "decoder_std", None)
    if std is None:
        return bernoulli_nll(logits, x)
    return gaussian_nll(torch.sigmoid(logits), x, std)


def entropy_floor(x) -> float:
    """The smallest value :func:`bernoulli_nll` can take on images ``x``, in nats per image.

    For a grey pixel x ∈ (0, 1) the cross-entropy −x log p − (1−x) log(1−p) is smallest at
    p = x, where it equals the binary entropy H(x) > 0. Only black-and-white images can score 0.
    """
    x = check_images(x).double().clamp(1e-12, 1 - 1e-12)
    h = -(x * x.log() + (1 - x) * (1 - x).log())
    return float(h.sum(-1).mean())


class VAE(nn.Module):
    """Encoder q(z|x) = N(μ(x), diag σ²(x)), decoder p(x|z) Bernoulli, prior p(z) = N(0, I)."""

    def __init__(self, cfg: Config | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else Config()   # a new default each time
        # the encoder outputs 2 * latent numbers: μ and log σ² of each latent dimension
        self.encoder = mlp([digits.PIXELS, cfg.hidden, cfg.hidden, 2 * cfg.latent])
        self.decoder = mlp([cfg.latent, cfg.hidden, cfg.hidden, digits.PIXELS])

    def encode(self, x):                          # (B, 64) -> μ (B, L), log σ² (B, L)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z):                          # (B, L) -> (B, 64) pixel logits
        return self.decoder(z)

    def reconstruct(self, x):                     # the decoded mean of the code's mean
        return torch.sigmoid(self.decode(self.encode(x)[0]))


def elbo_terms(model: VAE, x, samples: int = 1):
    """The two terms of the negative ELBO per image: (reconstruction, KL), each shape (B,).

    reconstruction = E_q[−log p(x|z)], estimated with ``samples`` reparameterized draws;
    KL = KL(q(z|x) || p(z)) in closed form. −ELBO = reconstruction + KL ≥ −log p(x).
    """
    x = check_images(x)
    mu, logvar = model.encode(x)                               # (B, L) each
    z = reparameterize(mu.expand(samples, *mu.shape), logvar.expand(samples, *mu.shape))  # (S, B, L)
    recon = reconstruction_nll(model, model.decode(z), x.expand(samples, *x.shape)).mean(0)  # (B,)
    return recon, diagonal_gaussian_kl(mu, logvar)


# --------------------------------------------------------------------------- a model we can solve exactly
# z ~ N(0, 1), x | z ~ N(z, s²): a one-dimensional latent-variable model whose evidence
# p(x) = N(x; 0, 1 + s²) and posterior p(z|x) = N(x / (1 + s²), s² / (1 + s²)) are known,
# so the ELBO of any Gaussian q(z) = N(m, v) can be compared with the truth.
def toy_log_evidence(x: float, s: float) -> float:
    """log p(x) = log N(x; 0, 1 + s²)."""
    var = 1.0 + s**2
    return -0.5 * (math.log(2 * math.pi * var) + x**2 / var)


def toy_posterior(x: float, s: float) -> tuple[float, float]:
    """The exact posterior p(z|x): (mean, variance)."""
    return x / (1.0 + s**2), s**2 / (1.0 + s**2)


def toy_elbo(x: float, s: float, m, v):
    """ELBO(q) = E_q[log p(x|z)] − KL(q || p(z)) for q = N(m, v), in closed form.

    E_q[log N(x; z, s²)] = −½ log(2πs²) − ((x − m)² + v) / (2s²). Works on arrays of m, v.
    """
    m, v = np.asarray(m, dtype=float), np.asarray(v, dtype=float)
    expected_loglik = -0.5 * math.log(2 * math.pi * s**2) - ((x - m) ** 2 + v) / (2 * s**2)
    kl_prior = 0.5 * (v + m**2 - 1.0 - np.log(v))
    return expected_loglik - kl_prior


# --------------------------------------------------------------------------- training
@dataclass
class History:
    """Per-step training metrics (per image, averaged over the batch) and wall time."""

    reconstruction: list = field(default_factory=list)
    kl: list = field(default_factory=list)
    seconds: float = 0.0


def shuffled_batches(n: int, batch: int, gen: torch.Generator):
    while True:
        yield from torch.randperm(n, generator=gen).split(batch)


def train_autoencoder(cfg: Config | None = None, steps: int = 2000, data=None):
    """Train an :class:`Autoencoder` on the training digits; returns ``(model, History)``."""
    cfg = cfg if cfg is not None else Config()
    X = check_images(digits.load()[0] if data is None else data)
    torch.manual_seed(cfg.seed)
    model = Autoencoder(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist, start = History(), time.perf_counter()
    batches = shuffled_batches(len(X), cfg.batch, torch.Generator().manual_seed(cfg.seed))
    for _ in range(steps):
        loss = model.loss(X[next(batches)]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.reconstruction.append(loss.item())
    hist.seconds = time.perf_counter() - start
    return model.eval(), hist


def train_vae(cfg: Config | None = None, steps: int = 2000, data=None):
    """Train a :class:`VAE` by minimising reconstruction + β · KL; returns ``(model, History)``.

    The reconstruction term is the Bernoulli cross-entropy, or the Gaussian negative
    log-likelihood when ``cfg.decoder_std`` is set."""
    cfg = cfg if cfg is not None else Config()
    X = check_images(digits.load()[0] if data is None else data)
    torch.manual_seed(cfg.seed)
    model = VAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist, start = History(), time.perf_counter()
    batches = shuffled_batches(len(X), cfg.batch, torch.Generator().manual_seed(cfg.seed))
    for _ in range(steps):
        recon, kl = elbo_terms(model, X[next(batches)])
        loss = (recon + cfg.beta * kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.reconstruction.append(recon.mean().item())
        hist.kl.append(kl.mean().item())
    hist.seconds = time.perf_counter() - start
    return model.eval(), hist


@torch.no_grad()
def evaluate_vae(model: VAE, x, samples: int = 16, seed: int = 0) -> dict:
    """Test-set terms in nats per image: reconstruction, KL and −ELBO (with β = 1)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        recon, kl = elbo_terms(model, x, samples)
    return {"reconstruction": float(recon.mean()), "kl": float(kl.mean()),
            "neg_elbo": float((recon + kl).mean())}


@torch.no_grad()
def importance_weighted_nll(model: VAE, x, samples: int = 256, seed: int = 0) -> float:
    """A tighter estimate of −log p(x) (Burda et al. 2016), in nats per image.

    log p(x) ≈ log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x) with z_k ~ q(z|x); it is still a
    bound (−log p(x) ≤ this value), and approaches −log p(x) as K grows.
    """
    x = check_images(x)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mu, logvar = model.encode(x)
        z = reparameterize(mu.expand(samples, *mu.shape), logvar.expand(samples, *mu.shape))
        log_px_z = -reconstruction_nll(model, model.decode(z), x.expand(samples, *x.shape))  # (K, B)
        normal = torch.distributions.Normal
        log_pz = normal(0.0, 1.0).log_prob(z).sum(-1)
        log_qz = normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
        log_w = log_px_z + log_pz - log_qz
        log_px = torch.logsumexp(log_w, 0) - math.log(samples)
    return float(-log_px.mean())


@torch.no_grad()
def reconstruction_error(model, x) -> dict:
    """How well ``model`` reconstructs ``x``: mean squared error per pixel and cross-entropy per image."""
    x = check_images(x)
    if isinstance(model, VAE):
        logits = model.decode(model.encode(x)[0])
    else:
        logits = model.decode(model.encode(x))
    mse = float(((torch.sigmoid(logits) - x) ** 2).mean())
    return {"mse": mse, "cross_entropy": float(bernoulli_nll(logits, x).mean())}


# --------------------------------------------------------------------------- gradient estimators
def toy_objective(z):
    """f(z) = (z − 2)²: the function whose expectation under N(μ, σ²) we differentiate."""
    return (z - 2.0) ** 2


def reparameterized_gradient(mu: float, sigma: float, samples: int, f=toy_objective) -> float:
    """d/dμ E_{z~N(μ,σ²)}[f(z)] estimated by the reparameterization trick: mean of f'(μ + σε)."""
    mu_t = torch.tensor(float(mu), dtype=torch.float64, requires_grad=True)
    eps = torch.randn(samples, dtype=torch.float64)
    f(mu_t + sigma * eps).mean().backward()
    return float(mu_t.grad)


def score_function_gradient(mu: float, sigma: float, samples: int, f=toy_objective) -> float:
    """The same gradient by the score function (REINFORCE): mean of f(z) · d/dμ log q(z; μ)."""
    mu_t = torch.tensor(float(mu), dtype=torch.float64, requires_grad=True)
    q = torch.distributions.Normal(mu_t, sigma)
    z = q.sample((samples,))                  # no gradient flows through sample()
    (f(z) * q.log_prob(z)).mean().backward()  # the gradient of log q carries the signal
    return float(mu_t.grad)


def gradient_variance(mu: float = 0.0, sigma: float = 1.0, sample_sizes=(1, 10, 100, 1000),
                      repeats: int = 500, seed: int = 0) -> list[dict]:
    """Mean and variance of both estimators over ``repeats`` runs, for each number of samples.

    The exact gradient of E[(z−2)²] = (μ−2)² + σ² with respect to μ is 2(μ − 2).
    """
    if repeats < 2:
        raise ValueError(f"repeats must be at least 2 to estimate a variance, got {repeats}")
    torch.manual_seed(seed)
    rows = []
    for k in sample_sizes:
        rep = np.array([reparameterized_gradient(mu, sigma, k) for _ in range(repeats)])
        sf = np.array([score_function_gradient(mu, sigma, k) for _ in range(repeats)])
        rows.append({"samples": k, "exact": 2 * (mu - 2.0),
                     "reparam_mean": rep.mean(), "reparam_var": rep.var(ddof=1),
                     "score_mean": sf.mean(), "score_var": sf.var(ddof=1)})
    return rows


# --------------------------------------------------------------------------- walking the latent space
@torch.no_grad()
def codes_gaussian_samples(model: Autoencoder, x, n: int = 500, seed: int = 0) -> torch.Tensor:
    """The best guess an autoencoder allows: decode codes drawn from independent Gaussians
    with the mean and standard deviation of each code coordinate over ``x``; (n, 64) images."""
    codes = model.encode(check_images(x))                     # (N, latent)
    gen = torch.Generator().manual_seed(seed)
    z = codes.mean(0) + codes.std(0) * torch.randn(n, codes.shape[1], generator=gen)
    return decode_mean(model, z)


def nearest_distance(images, reference) -> float:
    """Mean Euclidean distance from each image to its nearest image in ``reference``.

    A second judge of realism that, unlike a classifier, cannot be fooled into confidence:
    an image far from every real digit scores high.
    """
    images, reference = check_images(images), check_images(reference)
    return float(torch.cdist(images, reference).min(1).values.mean())


def normal_quantiles(n: int, low: float = 0.03, high: float = 0.97) -> np.ndarray:
    """``n`` points whose prior probability mass is evenly spaced: Φ⁻¹ of a uniform grid."""
    return torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(low, high, n)).numpy()


@torch.no_grad()
def decode_mean(model, z) -> torch.Tensor:
    """The decoder's mean image sigmoid(logits) for codes ``z`` of shape (n, latent)."""
    return torch.sigmoid(model.decode(torch.as_tensor(z, dtype=torch.float32)))


def interpolate(model, x_a, x_b, steps: int = 10) -> torch.Tensor:
    """Decode the straight line between the codes μ(x_a) and μ(x_b); (steps, 64) images."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    with torch.no_grad():
        za = model.encode(check_images(x_a.reshape(1, -1)))[0]
        zb = model.encode(check_images(x_b.reshape(1, -1)))[0]
    t = torch.linspace(0, 1, steps)[:, None]
    return decode_mean(model, (1 - t) * za + t * zb)


def prior_samples(model, n: int = 500, seed: int = 0) -> torch.Tensor:
    """Decoded mean images of ``n`` codes drawn from the prior N(0, I); shape (n, 64)."""
    gen = torch.Generator().manual_seed(seed)
    return decode_mean(model, torch.randn(n, model.cfg.latent, generator=gen))


def circle_path(n: int = 36, radius: float = 1.5) -> np.ndarray:
    """``n`` points on a circle in the latent plane: the static explorer's tour."""
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([radius * np.cos(a), radius * np.sin(a)], 1)




# =========================================================================== section 6: beyond the basic VAE
# --------------------------------------------------------------------------- why samples blur
@torch.no_grad()
def decoder_sample(model, z, seed: int = 0) -> torch.Tensor:
    """One draw x ~ p(x|z) for each code of ``z`` (n, latent): the whole decoder distribution,
    not its mean. Bernoulli pixels are 0 or 1; Gaussian pixels are the mean plus noise of
    standard deviation ``cfg.decoder_std`` (not clipped to [0, 1]); shape (n, 64)."""
    mean = decode_mean(model, z)
    gen = torch.Generator().manual_seed(seed)
    std = getattr(model.cfg, "decoder_std", None)
    if std is None:
        return torch.bernoulli(mean, generator=gen)
    return mean + std * torch.randn(mean.shape, generator=gen)


@torch.no_grad()
def posterior_weighted_mean(model: VAE, z, x_train):
    """The best decoder output at each code of ``z`` (n, latent), given the encoder and the data.

    The reconstruction term averages ‖x − g(z)‖² over images x of the training set and codes
    z ~ q(z|x). Over every possible function g, the minimiser is the mean of the images
    weighted by how likely each one is to be encoded at z:

        E[x | z] = Σ_i w_i(z) x_i,    w_i(z) = q(z | x_i) / Σ_j q(z | x_j).

    Returns ``(means (n, 64), effective)``, where ``effective`` (n,) is 1 / Σ_i w_i², the
    number of training images the average is effectively spread over (1: the code names one
    image; large: the code is ambiguous and the best output is a blend).
    """
    x_train = check_images(x_train)
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.ndim != 2 or z.shape[1] != model.cfg.latent:
        raise ValueError(f"codes must have shape (n, {model.cfg.latent}), got {tuple(z.shape)}")
    mu, logvar = model.encode(x_train)                                  # (N, L) each
    log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z[:, None]).sum(-1)  # (n, N)
    w = torch.softmax(log_q, dim=1)
    return w @ x_train, 1.0 / (w ** 2).sum(1)


def sharpness(images) -> torch.Tensor:
    """Mean absolute discrete Laplacian of each image (n, 64), over its 6 x 6 inner pixels.

    The Laplacian 4 x[i, j] − x[i−1, j] − x[i+1, j] − x[i, j−1] − x[i, j+1] is zero where an
    image is flat or changes linearly, and large at a crisp edge or a lone bright pixel:
    averaging images (blur) lowers it, and so does any smoothing; noise raises it.
    """
    x = check_images(images).reshape(-1, 1, digits.SIDE, digits.SIDE)
    kernel = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]).reshape(1, 1, 3, 3)
    return F.conv2d(x, kernel).abs().mean(dim=(1, 2, 3))


# --------------------------------------------------------------------------- the conditional ELBO
def conditional_elbo_terms(model, x, y, samples: int = 1):
    """The conditional VAE's negative ELBO in two terms, per image: (reconstruction, KL).

    reconstruction = E_{q(z|x,y)}[−log p(x|z,y)], KL = KL(q(z|x,y) || p(z)), for a model with
    ``encode(x, y)`` and ``decode(z, y)`` such as :class:`genmech.conditional.ConditionalVAE`.
    With y ignored by both networks it is :func:`elbo_terms`, term for term.
    """
    x = check_images(x)
    y = torch.as_tensor(y)
    if y.shape != (len(x),):
        raise ValueError(f"give one label per image: {len(x)} images, labels of shape {tuple(y.shape)}")
    mu, logvar = model.encode(x, y)                                      # (B, L) each
    z = reparameterize(mu.expand(samples, *mu.shape), logvar.expand(samples, *mu.shape))  # (S, B, L)
    logits = torch.stack([model.decode(zs, y) for zs in z])              # (S, B, 64)
    recon = bernoulli_nll(logits, x.expand(samples, *x.shape)).mean(0)
    return recon, diagonal_gaussian_kl(mu, logvar)


# --------------------------------------------------------------------------- VQ-VAE
@dataclass
class VQConfig:
    """Sizes and training settings of the VQ-VAE (van den Oord et al., 2017)."""

    codes: int = 32          # K, the number of vectors in the codebook
    dim: int = 4             # D, the length of each code vector
    slots: int = 4           # m, code vectors per image: an image becomes m indices in 0..K-1
    hidden: int = 128        # units in each hidden layer of encoder and decoder
    commitment: float = 0.25  # γ, the weight of the commitment loss (the paper calls it β)
    lr: float = 3e-3
    batch: int = 128
    seed: int = 0

    def __post_init__(self):
        for name in ("codes", "dim", "slots", "hidden", "batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (isinstance(self.commitment, (int, float)) and self.commitment >= 0
                and math.isfinite(self.commitment)):
            raise ValueError(f"commitment must be a finite number >= 0, got {self.commitment!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")


def quantize(z_e, codebook):
    """Replace each vector of ``z_e`` (..., D) by its nearest codebook row (K, D).

    Returns ``(e, indices)``: e[...] = codebook[k*] with k* = argmin_k ‖z_e − codebook_k‖².
    """
    if z_e.shape[-1] != codebook.shape[-1] or codebook.ndim != 2:
        raise ValueError(f"vectors of length {z_e.shape[-1]} cannot be matched to a codebook "
                         f"of shape {tuple(codebook.shape)}: it must be (K, {z_e.shape[-1]})")
    d = ((z_e[..., None, :] - codebook) ** 2).sum(-1)          # (..., K) squared distances
    indices = d.argmin(-1)
    return codebook[indices], indices


def straight_through(z_e, e):
    """z_e + sg[e − z_e]: equals e going forward; going backward its gradient is copied to
    z_e unchanged, as if quantisation were the identity (Bengio et al., 2013)."""
    return z_e + (e - z_e).detach()


def vq_losses(z_e, e):
    """The two extra terms of the VQ-VAE loss, per vector: (codebook, commitment).

    codebook   = ‖sg[z_e] − e‖²: moves the chosen code towards the encoder's output;
    commitment = ‖z_e − sg[e]‖²: keeps the encoder's output near its code.
    Equal in value; they differ in where the gradient goes (sg = stop-gradient, ``detach``).
    """
    return ((z_e.detach() - e) ** 2).sum(-1), ((z_e - e.detach()) ** 2).sum(-1)


class VQVAE(nn.Module):
    """x (64 pixels) -> encoder -> m vectors z_e -> nearest codes e -> decoder -> 64 pixel logits."""

    def __init__(self, cfg: VQConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else VQConfig()
        self.encoder = mlp([digits.PIXELS, cfg.hidden, cfg.hidden, cfg.slots * cfg.dim])
        self.codebook = nn.Parameter(torch.randn(cfg.codes, cfg.dim))         # (K, D)
        self.decoder = mlp([cfg.slots * cfg.dim, cfg.hidden, cfg.hidden, digits.PIXELS])

    def encode(self, x):                          # (B, 64) -> z_e (B, m, D)
        return self.encoder(check_images(x)).reshape(len(x), self.cfg.slots, self.cfg.dim)

    def decode(self, e):                          # (B, m, D) -> (B, 64) pixel logits
        return self.decoder(e.reshape(len(e), -1))

    def decode_indices(self, indices):            # (B, m) ints -> (B, 64) pixel logits
        indices = torch.as_tensor(indices)
        if indices.ndim != 2 or indices.shape[1] != self.cfg.slots:
            raise ValueError(f"indices must have shape (n, {self.cfg.slots}), got {tuple(indices.shape)}")
        if indices.dtype.is_floating_point or (indices < 0).any() or (indices >= self.cfg.codes).any():
            raise ValueError(f"indices must be whole numbers in 0..{self.cfg.codes - 1}")
        return self.decode(self.codebook[indices])

    def losses(self, x):
        """Per image: reconstruction (Bernoulli, nats), codebook and commitment terms, and the
        chosen indices (B, m)."""
        z_e = self.encode(x)
        e, indices = quantize(z_e, self.codebook)
        logits = self.decode(straight_through(z_e, e))
        codebook, commitment = vq_losses(z_e, e)
        return {"reconstruction": bernoulli_nll(logits, x), "codebook": codebook.sum(-1),
                "commitment": commitment.sum(-1), "indices": indices}

    @torch.no_grad()
    def reconstruct(self, x):                     # (B, 64) -> (B, 64) intensities in [0, 1]
        e, _ = quantize(self.encode(x), self.codebook)
        return torch.sigmoid(self.decode(e))


def train_vqvae(cfg: VQConfig | None = None, steps: int = 1500, data=None):
    """Train a :class:`VQVAE` on reconstruction + codebook loss + γ · commitment loss.

    The codebook starts at encoder outputs of the first batch (a common remedy for codes that
    are never chosen and so never learn). Returns ``(model, History)``; ``History.kl`` holds
    the codebook loss per image.
    """
    cfg = cfg if cfg is not None else VQConfig()
    X = check_images(digits.load()[0] if data is None else data)
    torch.manual_seed(cfg.seed)
    model = VQVAE(cfg)
    batches = shuffled_batches(len(X), cfg.batch, torch.Generator().manual_seed(cfg.seed))
    with torch.no_grad():
        start_vectors = model.encode(X[:max(cfg.batch, cfg.codes)]).reshape(-1, cfg.dim)
        pick = torch.randperm(len(start_vectors))[:cfg.codes]
        model.codebook.copy_(start_vectors[pick])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist, start = History(), time.perf_counter()
    for _ in range(steps):
        out = model.losses(X[next(batches)])
        loss = (out["reconstruction"] + out["codebook"] + cfg.commitment * out["commitment"]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.reconstruction.append(out["reconstruction"].mean().item())
        hist.kl.append(out["codebook"].mean().item())
    hist.seconds = time.perf_counter() - start
    return model.eval(), hist


def codebook_perplexity(indices, codes: int) -> tuple[int, float]:
    """How much of a codebook of ``codes`` vectors is used: ``(codes used, perplexity)``.

    With p_k the share of slots assigned to code k, the perplexity exp(−Σ p_k log p_k) is
    the number of equally used codes that would give the same entropy: K if all are used
    equally, 1 if one code takes everything.
    """
    indices = torch.as_tensor(indices).reshape(-1)
    if indices.dtype.is_floating_point or len(indices) == 0:
        raise ValueError("give a non-empty tensor of integer code indices")
    if (indices < 0).any() or (indices >= codes).any():
        raise ValueError(f"indices must lie in 0..{codes - 1}")
    p = torch.bincount(indices, minlength=codes).double() / len(indices)
    nz = p[p > 0]
    return int((p > 0).sum()), float(torch.exp(-(nz * nz.log()).sum()))
