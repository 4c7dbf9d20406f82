"""Four families of generative models on the same 8 x 8 digits, trained and measured alike.

The diffusion chapter's last section reads this module. It trains, each on the 1,437
training digits of :func:`genmech.digits.load` and on a small budget,

* a **GAN** (Goodfellow et al., 2014): :class:`genmech.gan.GAN` with the settings of the GAN
  chapter's digits (:data:`GAN_SETTINGS`);
* a **VAE** (Kingma & Welling, 2014): :func:`genmech.vae.train_vae` with a 16-dimensional
  latent space, as the VAE chapter's latent explorer;
* an **autoregressive** model: the digits' 17 grey levels (0, 1/16, ..., 1) as tokens, 64 per
  image read row by row, and the book's small GPT (:class:`genmech.gpt.GPT`) predicting
  each pixel from the ones before it (:func:`train_pixel_gpt`, :func:`pixel_nll`,
  :func:`sample_pixels`), after PixelRNN/PixelCNN (van den Oord et al., 2016);
* a **diffusion** model (Ho et al., 2020): :class:`genmech.diffusion.Diffusion` with the
  denoiser of the chapter's digits section, unconditional here like the three others.

The likelihoods are on one space, the 17^64 possible images: the autoregressive model's
is exact (:func:`pixel_nll`); the diffusion model's and the VAE's are upper bounds on
``-log p(x)`` (:func:`genmech.diffusion.negative_elbo`, :func:`vae_bound` with the binomial
decoder of :func:`binomial_nll`); a GAN has none.
:func:`measure` scores samples in the judge's feature space (:mod:`genmech.quality`);
:func:`compare` runs the whole comparison; :func:`genmech.diffusion_demos.families_figure`
draws the samples.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import diffusion as D
from . import digits, quality, vae
from .nets import fit
from .gan import GAN, GANConfig
from .gpt import GPT, GPTConfig

LEVELS = 17                 # the digits' grey levels: scikit-learn stores 0..16
START = LEVELS              # the token that starts every image (it is never predicted)
FAMILIES = ("GAN", "VAE", "autoregressive", "diffusion")

# the GAN chapter's digits GAN (genmech.gan_demos.DigitsGAN's defaults)
GAN_SETTINGS = dict(dataset="digits", loss="non-saturating", lr_d=2e-3, lr_g=2e-3, hidden=256,
                    layers=2, noise_dim=16, batch=64)


# --------------------------------------------------------------------------- pixels as tokens
def to_tokens(images) -> torch.Tensor:
    """Images (n, 64) in [0, 1] -> grey-level tokens (n, 64), integers 0..16."""
    images = vae.check_images(torch.as_tensor(images, dtype=torch.float32))
    return (images * (LEVELS - 1)).round().long()


def from_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens 0..16 -> images in [0, 1]."""
    return tokens.float() / (LEVELS - 1)


def pixel_gpt_config() -> GPTConfig:
    """The small GPT of the transformer chapter (two blocks, four heads), 32 wide, reading
    64 pixels over 18 tokens (17 grey levels and START)."""
    return GPTConfig(vocab_size=LEVELS + 1, block_size=digits.PIXELS, n_layer=2, n_head=4, n_embd=32)


def shifted(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for next-pixel prediction: ``[START, p_1 .. p_63]`` -> ``p_1 .. p_64``."""
    start = torch.full((len(tokens), 1), START, dtype=torch.long)
    return torch.cat([start, tokens[:, :-1]], 1), tokens                 # (n, 64) each


def train_pixel_gpt(tokens: torch.Tensor, steps: int = 300, batch: int = 64, lr: float = 5e-3,
                    seed: int = 0) -> tuple[GPT, list]:
    """Train the pixel GPT by maximum likelihood (cross-entropy of each next pixel)."""
    torch.manual_seed(seed)
    model = GPT(pixel_gpt_config())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)

    def batch_loss():
        x, y = shifted(tokens[torch.randint(len(tokens), (batch,))])
        return model(x, y)[1]

    return model.eval(), fit(opt, batch_loss, steps)


@torch.no_grad()
def pixel_nll(model: GPT, tokens: torch.Tensor) -> torch.Tensor:
    """The exact ``-log p(x) = -sum_i log p(x_i | x_<i)`` of each image, in nats; (n,)."""
    x, y = shifted(tokens)
    logits, _ = model(x)                                                  # (n, 64, 18)
    logits = logits[..., :LEVELS]                                         # START is never a pixel
    return F.cross_entropy(logits.transpose(1, 2), y, reduction="none").sum(1)


@torch.no_grad()
def sample_pixels(model: GPT, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` images (n, 64) in [0, 1], drawn one pixel at a time from ``p(x_i | x_<i)``."""
    g = torch.Generator().manual_seed(seed)
    seq = torch.full((n, 1), START, dtype=torch.long)
    for _ in range(digits.PIXELS):
        logits, _ = model(seq)
        probs = torch.softmax(logits[:, -1, :LEVELS], -1)                 # (n, 17)
        seq = torch.cat([seq, torch.multinomial(probs, 1, generator=g)], 1)
    return from_tokens(seq[:, 1:])


# --------------------------------------------------------------------------- the VAE's bound
def binomial_nll(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``-log p(k)`` per image (nats) when each pixel's grey level k in 0..16 is
    ``Binomial(16, sigmoid(logit))``: ``-log C(16, k) - k log p - (16 - k) log(1 - p)``, summed.

    With intensity x = k / 16 this is ``16 x`` the VAE's Bernoulli cross-entropy minus
    ``log C(16, k)``: the VAE chapter's decoder read as 16 units of ink per pixel."""
    n, k = LEVELS - 1, tokens.double()
    log_choose = math.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
    logits = logits.double()
    # log p = -softplus(-logit), log(1 - p) = -softplus(logit)
    return (k * F.softplus(-logits) + (n - k) * F.softplus(logits) - log_choose).sum(-1)


@torch.no_grad()
def vae_bound(model: vae.VAE, images, samples: int = 16, seed: int = 0) -> torch.Tensor:
    """An upper bound on ``-log p(x)`` (nats per image) for images on the 17 grey levels: the
    negative ELBO ``E_q[-log p(x | z)] + KL(q(z | x) || p(z))`` with the binomial decoder of
    :func:`binomial_nll`, estimated with ``samples`` draws of z; (n,). The VAE was trained
    with the Bernoulli cross-entropy instead, so this valid bound is not the one it
    optimised: a loose one."""
    x = vae.check_images(torch.as_tensor(images, dtype=torch.float32))
    k = to_tokens(x)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mu, logvar = model.encode(x)                                             # (B, L)
        z = vae.reparameterize(mu.expand(samples, *mu.shape), logvar.expand(samples, *mu.shape))
        recon = binomial_nll(model.decode(z), k.expand(samples, *k.shape)).mean(0)   # (B,)
    return recon + vae.diagonal_gaussian_kl(mu, logvar).double()


def bits_per_pixel(nats_per_image) -> float:
    """Nats per image -> bits per pixel: divide by 64 pixels and by ln 2."""
    return float(torch.as_tensor(nats_per_image, dtype=torch.float64).mean()) / (digits.PIXELS * math.log(2))


# --------------------------------------------------------------------------- measuring samples
def class_entropy(counts) -> float:
    """The entropy (bits) of the judge's class counts: log2 10 = 3.32 when all ten digits are
    equally frequent, 0 when every sample is judged the same digit."""
    p = np.asarray(counts, dtype=float)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


def measure(images, real_features) -> dict:
    """The judge's view of ``images`` (n, 64): mean confidence, classes present, class
    entropy (diversity), precision and recall (k = 3) and Fréchet distance in its features."""
    verdict = digits.judge(images)
    fake = digits.features(images)
    pr = quality.precision_recall(real_features, fake)
    return dict(confidence=verdict.confidence, classes=verdict.classes_present,
                entropy=class_entropy(verdict.class_counts), precision=pr.precision,
                recall=pr.recall, frechet=quality.frechet_distance(real_features, fake))


# --------------------------------------------------------------------------- the comparison
@dataclass
class Budget:
    """Training steps per family (defaults: within a minute for all four on one CPU thread)."""

    gan: int = 1200          # as the GAN chapter's digits section
    vae: int = 1200          # as the VAE chapter's latent explorer
    autoregressive: int = 300
    diffusion: int = 2000

    def __post_init__(self):
        for name in ("gan", "vae", "autoregressive", "diffusion"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"the {name} budget must be a positive number of steps, got {value!r}")


@dataclass
class Family:
    """One trained family: its samples and what they cost."""

    name: str
    model: object
    samples: torch.Tensor            # (n, 64) in [0, 1]
    train_s: float                   # CPU seconds to train
    sample_s: float                  # CPU seconds per sample
    nll: float | None = None         # nats per test image: exact or a bound; None: undefined
    nll_kind: str = "none"           # "exact", "bound" or "none"
    scores: dict = field(default_factory=dict)
    nll_parts: dict = field(default_factory=dict)    # the terms of a bound, where it has them


def _timed(fn):
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def _per_sample(fn, n: int, least: float = 0.2) -> tuple[torch.Tensor, float]:
    """``fn()`` (which draws n samples) and its CPU seconds per sample, repeated until
    ``least`` seconds have passed, so that a fast sampler is timed above the clock's grain."""
    out, total, runs = None, 0.0, 0
    while total < least:
        out, t = _timed(fn)
        total, runs = total + t, runs + 1
    return out, total / (runs * n)


def diffusion_config() -> D.DiffusionConfig:
    """The denoiser of the chapter's digits section (genmech.diffusion_demos.DigitsDiffusion),
    without labels."""
    return D.DiffusionConfig(dim=digits.PIXELS, T=100, schedule="linear", hidden=256, layers=3,
                             emb=32, lr=1e-3, batch=128)


def compare(budget: Budget | None = None, n: int = 500, seed: int = 0) -> dict[str, Family]:
    """Train the four families on the training digits, draw ``n`` samples from each and
    measure them against the test digits; likelihoods on the test digits (nats per image)."""
    budget = budget or Budget()
    X, _, X_test, _ = digits.load()
    tokens, test_tokens = to_tokens(X), to_tokens(X_test)
    real_features = digits.features(X_test)
    out = {}

    def gan_fit():
        torch.manual_seed(seed)
        gan = GAN(X, GANConfig(**GAN_SETTINGS), out_activation="sigmoid")
        for _ in range(budget.gan):
            gan.step()
        return gan
    gan, t = _timed(gan_fit)
    z = torch.rand(n, GAN_SETTINGS["noise_dim"], generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.no_grad():
        fake, s = _per_sample(lambda: gan.sample(n, z), n)
    out["GAN"] = Family("GAN", gan, fake, t, s)

    (model, _), t = _timed(lambda: vae.train_vae(vae.Config(latent=16, seed=seed), steps=budget.vae))
    fake, s = _per_sample(lambda: vae.prior_samples(model, n, seed), n)
    out["VAE"] = Family("VAE", model, fake, t, s, float(vae_bound(model, X_test).mean()), "bound")

    (model, _), t = _timed(lambda: train_pixel_gpt(tokens, budget.autoregressive, seed=seed))
    fake, s = _per_sample(lambda: sample_pixels(model, n, seed), n)
    out["autoregressive"] = Family("autoregressive", model, fake, t, s,
                                   float(pixel_nll(model, test_tokens).mean()), "exact")

    (model, _), t = _timed(lambda: D.train(X * 2 - 1, diffusion_config(), budget.diffusion, seed))
    fake, s = _per_sample(lambda: ((model.sample(n, generator=torch.Generator().manual_seed(seed)) + 1) / 2)
                          .clamp(0, 1), n)
    bound = D.negative_elbo(model.model, model.schedule, X_test * 2 - 1, LEVELS, seed)
    out["diffusion"] = Family("diffusion", model, fake, t, s, bound["total"], "bound", nll_parts=bound)

    for family in out.values():
        family.scores = measure(family.samples, real_features)
    return out
