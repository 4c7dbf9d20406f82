"""Probability and randomness: the language every generative model speaks.

The chapter *Probability and randomness* reads this module. A generative model is a way
to turn simple randomness into samples that look like the data; this module holds the
pieces of that sentence, each small enough to check by hand:

* :class:`Mixture`: a one-dimensional mixture of Gaussians (one component is a plain
  Gaussian) with its density, distribution function and sampler;
* :func:`posterior`: Bayes' rule on a discrete hypothesis space;
* :func:`exponential_inverse_cdf` and :func:`inverse_cdf_sample`: inverse-CDF sampling
  (Devroye, 1986), in closed form and by bisection;
* :func:`estimate_pi` and :func:`monte_carlo_error`: Monte Carlo estimates and how their
  error shrinks like ``1/sqrt(n)`` (Robert & Casella, 2004); :func:`importance_sampling`;
* :func:`multivariate_gaussian_sample` and :func:`multivariate_gaussian_log_pdf`: the
  Gaussian of a random vector, with its covariance matrix;
* :func:`gaussian_mle` and :func:`average_log_likelihood`: maximum likelihood in closed
  form, and the quantity gradient ascent climbs;
* :func:`entropy`, :func:`cross_entropy`, :func:`kl_divergence`, :func:`gaussian_kl`
  (Shannon, 1948; Cover & Thomas, 2006) and :func:`monte_carlo_kl`;
* :func:`with_temperature`: reshaping a categorical distribution, ``p_i`` proportional to
  ``exp(log p_i / T)`` (Hinton et al., 2015).

The chapter's demos and figures are in :mod:`genmech.probability_demos`: a histogram
converging to its density (the law of large numbers), maximum likelihood by gradient
ascent, one Gaussian fitted to two peaks by forward and by reverse KL (Minka, 2005), and
the temperature figure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtr

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# --------------------------------------------------------------------------- checks
def as_probabilities(p, name: str = "p") -> np.ndarray:
    """``p`` as a float64 array after checking it is a probability vector."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty 1D list of probabilities, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{name} must hold finite, non-negative probabilities, got {p}")
    if abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1, but sums to {p.sum():.6g}")
    return p


def as_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value}")
    return float(value)


def as_count(n, name: str = "n", low: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < low:
        raise ValueError(f"{name} must be an int >= {low}, got {n!r}")
    return int(n)


# --------------------------------------------------------------------------- distributions
def gaussian_pdf(x, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """The normal density ``exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))``."""
    std = as_positive(std, "std")
    z = (np.asarray(x, dtype=np.float64) - mean) / std
    return np.exp(-0.5 * z**2) / (std * math.sqrt(2 * math.pi))


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """``log N(x; mean, exp(log_std)^2)`` in torch, differentiable in ``mean`` and ``log_std``.

    Broadcasts: ``x`` of shape ``(N, 1)`` against parameters of shape ``(K,)`` gives ``(N, K)``.
    The standard deviation is stored as its log so that gradient steps keep it positive.
    """
    z = (x - mean) * torch.exp(-log_std)
    return -0.5 * z**2 - log_std - LOG_SQRT_2PI


def mixture_log_prob(x: torch.Tensor, logits: torch.Tensor, means: torch.Tensor,
                     log_stds: torch.Tensor) -> torch.Tensor:
    """``log sum_k w_k N(x; mu_k, sigma_k^2)`` with ``w = softmax(logits)``; ``x`` (N,) -> (N,).

    Computed with ``logsumexp`` so that a point far from every component gives a large
    negative number rather than ``log(0) = -inf``.
    """
    log_w = torch.log_softmax(logits, dim=0)                                # (K,)
    per_component = gaussian_log_prob(x[:, None], means, log_stds)         # (N, K)
    return torch.logsumexp(log_w + per_component, dim=1)                    # (N,)


@dataclass(frozen=True)
class Mixture:
    """A mixture of Gaussians on the real line: ``p(x) = sum_k w_k N(x; mu_k, sigma_k^2)``.

    With a single component it is a plain Gaussian. ``weights`` must sum to one.
    """

    weights: tuple = (1.0,)
    means: tuple = (0.0,)
    stds: tuple = (1.0,)

    def __post_init__(self):
        k = len(self.weights)
        if not (len(self.means) == len(self.stds) == k) or k == 0:
            raise ValueError("weights, means and stds must have the same, non-zero length; "
                             f"got {len(self.weights)}, {len(self.means)}, {len(self.stds)}")
        as_probabilities(self.weights, "weights")
        for s in self.stds:
            as_positive(s, "every std")

    def pdf(self, x) -> np.ndarray:
        """The density at ``x`` (numpy, float64)."""
        x = np.asarray(x, dtype=np.float64)
        return sum(w * gaussian_pdf(x, m, s) for w, m, s in zip(self.weights, self.means, self.stds))

    def cdf(self, x) -> np.ndarray:
        """``P(X <= x) = sum_k w_k Phi((x - mu_k) / sigma_k)``."""
        x = np.asarray(x, dtype=np.float64)
        return sum(w * ndtr((x - m) / s) for w, m, s in zip(self.weights, self.means, self.stds))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` in torch (float64 parameters), for losses and KL estimates."""
        x = torch.as_tensor(x, dtype=torch.float64)
        return mixture_log_prob(x, torch.log(torch.tensor(self.weights, dtype=torch.float64)),
                                torch.tensor(self.means, dtype=torch.float64),
                                torch.log(torch.tensor(self.stds, dtype=torch.float64)))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples: first pick a component ``k`` with probability ``w_k`` (a categorical
        draw), then draw from that component's Gaussian (ancestral sampling)."""
        n = as_count(n, "n", 0)
        k = rng.choice(len(self.weights), size=n, p=np.asarray(self.weights))
        return rng.normal(np.asarray(self.means)[k], np.asarray(self.stds)[k])

    @property
    def mean(self) -> float:
        return float(np.dot(self.weights, self.means))

    @property
    def std(self) -> float:
        """The mixture's standard deviation: ``E[x^2] - E[x]^2`` with
        ``E[x^2] = sum_k w_k (sigma_k^2 + mu_k^2)``."""
        second = np.dot(self.weights, np.square(self.stds) + np.square(self.means))
        return float(math.sqrt(second - self.mean**2))


# The two running examples of the chapter: a data distribution with two unequal peaks,
# and a symmetric two-peaked target for the KL fits.
TWO_PEAKS = Mixture(weights=(0.3, 0.7), means=(-2.0, 1.5), stds=(0.5, 0.8))
TWIN_PEAKS = Mixture(weights=(0.5, 0.5), means=(-2.0, 2.0), stds=(0.5, 0.5))


def posterior(prior, likelihood) -> np.ndarray:
    """Bayes' rule on a discrete hypothesis space: ``P(h | e) = P(e | h) P(h) / P(e)``,
    with the evidence ``P(e) = sum_h P(e | h) P(h)`` (the law of total probability)."""
    prior = as_probabilities(prior, "prior")
    likelihood = np.asarray(likelihood, dtype=np.float64)
    if likelihood.shape != prior.shape or np.any(likelihood < 0) or np.any(likelihood > 1):
        raise ValueError("likelihood must hold one probability P(e | h) in [0, 1] per hypothesis")
    joint = prior * likelihood
    evidence = joint.sum()
    if evidence == 0:
        raise ValueError("the evidence has probability zero under every hypothesis")
    return joint / evidence


# --------------------------------------------------------------------------- sampling
def exponential_inverse_cdf(u, rate: float = 1.0) -> np.ndarray:
    """``F^{-1}(u) = -log(1 - u) / rate``: uniform numbers become exponential ones."""
    rate = as_positive(rate, "rate")
    u = np.asarray(u, dtype=np.float64)
    if np.any((u < 0) | (u >= 1)):
        raise ValueError("u must lie in [0, 1)")
    return -np.log1p(-u) / rate


def inverse_cdf_sample(cdf, u, low: float = -20.0, high: float = 20.0, iters: int = 60) -> np.ndarray:
    """Solve ``cdf(x) = u`` for every ``u`` by bisection: inverse-CDF sampling for any
    distribution whose CDF we can compute (60 halvings of a 40-wide interval: 1e-16)."""
    u = np.asarray(u, dtype=np.float64)
    if np.any((u <= 0) | (u >= 1)):
        raise ValueError("u must lie strictly between 0 and 1")
    lo, hi = np.full_like(u, low), np.full_like(u, high)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = cdf(mid) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def lognormal_pdf(y) -> np.ndarray:
    """Density of ``Y = exp(Z)``, ``Z ~ N(0, 1)``, by the change of variables
    ``p_Y(y) = p_Z(log y) |d log y / dy| = p_Z(log y) / y`` (zero for ``y <= 0``)."""
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros_like(y)
    pos = y > 0
    out[pos] = gaussian_pdf(np.log(y[pos])) / y[pos]
    return out


# --------------------------------------------------------------------------- Monte Carlo
def estimate_pi(n: int, rng: np.random.Generator, repeats: int = 1) -> np.ndarray:
    """``repeats`` independent estimates of pi, each from ``n`` points uniform in the unit
    square: ``4 x (fraction inside the quarter disc)``. Drawn in chunks to bound memory."""
    n, repeats = as_count(n), as_count(repeats, "repeats")
    inside = np.zeros(repeats)
    chunk = max(1, 2_000_000 // repeats)
    done = 0
    while done < n:
        m = min(chunk, n - done)
        xy = rng.random((repeats, m, 2))
        inside += ((xy**2).sum(-1) <= 1.0).sum(-1)
        done += m
    return 4.0 * inside / n


def monte_carlo_error(ns, seeds: int = 100, seed: int = 0) -> np.ndarray:
    """Root-mean-square error of :func:`estimate_pi` at each sample size in ``ns``,
    measured over ``seeds`` independent runs."""
    rng = np.random.default_rng(seed)
    return np.array([np.sqrt(np.mean((estimate_pi(int(n), rng, seeds) - math.pi) ** 2)) for n in ns])


def loglog_slope(x, y) -> float:
    """Slope of the least-squares line through ``(log x, log y)``: the exponent of a power law."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def importance_sampling(f, p: Mixture, q: Mixture, n: int, rng: np.random.Generator) -> float:
    """Importance sampling: ``E_p[f(X)]`` estimated from ``n`` samples of ``q``, each weighted
    by ``w(x) = p(x) / q(x)``: ``(1/n) sum_i f(x_i) w(x_i)`` with ``x_i ~ q``. It is unbiased
    wherever ``q > 0`` covers ``f p`` (Robert & Casella, 2004, section 3.3)."""
    x = q.sample(as_count(n), rng)
    w = np.exp(p.log_prob(x).numpy() - q.log_prob(x).numpy())   # ratio of densities, in logs
    return float(np.mean(np.asarray(f(x), dtype=np.float64) * w))


# --------------------------------------------------------------------------- many dimensions
def as_covariance(cov) -> np.ndarray:
    """``cov`` as a float64 matrix after checking it is symmetric and positive definite."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.size == 0:
        raise ValueError(f"a covariance must be a square matrix, got shape {cov.shape}")
    if not np.allclose(cov, cov.T):
        raise ValueError("a covariance must be symmetric: cov[i, j] == cov[j, i]")
    if not np.all(np.isfinite(cov)) or np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError("a covariance must be positive definite (all eigenvalues > 0)")
    return cov


def multivariate_gaussian_log_pdf(x, mean, cov) -> np.ndarray:
    """``log N(x; mu, Sigma) = -d/2 log(2 pi) - 1/2 log det Sigma - 1/2 (x - mu)^T Sigma^-1 (x - mu)``
    for each row of ``x`` (shape ``(n, d)`` or ``(d,)``)."""
    cov = as_covariance(cov)
    mean = np.asarray(mean, dtype=np.float64)
    if mean.shape != (cov.shape[0],):
        raise ValueError(f"mean must have shape ({cov.shape[0]},) to match cov, got {mean.shape}")
    diff = np.atleast_2d(np.asarray(x, dtype=np.float64)) - mean
    if diff.shape[1] != mean.size:
        raise ValueError(f"x must have {mean.size} columns, got {diff.shape[1]}")
    quad = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)     # (x - mu)^T Sigma^-1 (x - mu)
    _, logdet = np.linalg.slogdet(cov)
    return -mean.size * LOG_SQRT_2PI - 0.5 * logdet - 0.5 * quad


def multivariate_gaussian_sample(mean, cov, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``N(mu, Sigma)`` as rows: ``x = mu + L eps`` with ``eps ~ N(0, I)`` and
    ``L`` the Cholesky factor, ``L L^T = Sigma``, so that ``Cov(x) = L I L^T = Sigma``."""
    cov = as_covariance(cov)
    mean = np.asarray(mean, dtype=np.float64)
    if mean.shape != (cov.shape[0],):
        raise ValueError(f"mean must have shape ({cov.shape[0]},) to match cov, got {mean.shape}")
    eps = rng.standard_normal((as_count(n), mean.size))
    return mean + eps @ np.linalg.cholesky(cov).T


# --------------------------------------------------------------------------- maximum likelihood
def gaussian_mle(x) -> tuple[float, float]:
    """The closed-form maximum-likelihood Gaussian: the sample mean and the (biased,
    divide-by-n) sample standard deviation."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError("gaussian_mle needs a 1D array of at least 2 numbers")
    mu = x.mean()
    return float(mu), float(np.sqrt(np.mean((x - mu) ** 2)))


def average_log_likelihood(x, mixture: Mixture) -> float:
    """``(1/N) sum_i log p(x_i)`` under ``mixture``."""
    return float(mixture.log_prob(torch.as_tensor(x)).mean())


ONE_PEAK = Mixture(weights=(1.0,), means=(1.5,), stds=(0.7,))


# --------------------------------------------------------------------------- information
def entropy(p) -> float:
    """Shannon entropy ``H(p) = -sum_i p_i log p_i`` in nats (``0 log 0 = 0``)."""
    p = as_probabilities(p)
    nz = p > 0
    return float(-(p[nz] * np.log(p[nz])).sum())


def cross_entropy(p, q) -> float:
    """``H(p, q) = -sum_i p_i log q_i``: the average code length, in nats, of events drawn
    from ``p`` coded for ``q``. Infinite if ``q`` gives zero to an outcome ``p`` allows."""
    p, q = as_probabilities(p), as_probabilities(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.size} and {q.size}")
    nz = p > 0
    if np.any(q[nz] == 0):
        return math.inf
    return float(-(p[nz] * np.log(q[nz])).sum())


def kl_divergence(p, q) -> float:
    """``KL(p || q) = sum_i p_i log(p_i / q_i) = H(p, q) - H(p) >= 0``."""
    return cross_entropy(p, q) - entropy(p)


def gaussian_kl(mu1: float, std1: float, mu2: float, std2: float) -> float:
    """``KL(N(mu1, std1^2) || N(mu2, std2^2))
    = log(std2/std1) + (std1^2 + (mu1 - mu2)^2) / (2 std2^2) - 1/2`` (derived in the text).

    One dimension, on floats, by standard deviations; the VAE's
    :func:`genmech.vae.diagonal_gaussian_kl` is the same divergence on tensors of means and
    log-variances, summed over independent dimensions."""
    std1, std2 = as_positive(std1, "std1"), as_positive(std2, "std2")
    return math.log(std2 / std1) + (std1**2 + (mu1 - mu2) ** 2) / (2 * std2**2) - 0.5


def monte_carlo_kl(p: Mixture, q: Mixture, n: int, rng: np.random.Generator) -> float:
    """``KL(p || q) ~ (1/n) sum_i [log p(x_i) - log q(x_i)]`` with ``x_i ~ p``."""
    x = torch.as_tensor(p.sample(as_count(n), rng))
    return float((p.log_prob(x) - q.log_prob(x)).mean())


# --------------------------------------------------------------------------- temperature
def with_temperature(p, temperature: float) -> np.ndarray:
    """``p_i(T) = exp(log p_i / T) / sum_j exp(log p_j / T)``, i.e. ``p_i^(1/T)`` renormalised.

    ``T = 1`` keeps ``p``; ``T -> 0`` puts all mass on the most likely outcome; ``T -> inf``
    flattens ``p`` towards uniform (over the outcomes ``p`` allows)."""
    p = as_probabilities(p)
    temperature = as_positive(temperature, "temperature")
    logits = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), -np.inf) / temperature
    logits -= logits.max()                       # softmax, shifted for stability
    q = np.exp(logits)
    return q / q.sum()


# Five next words after "The cat sat on the", with made-up but plausible probabilities.
NEXT_WORDS = ("mat", "sofa", "floor", "roof", "keyboard", "moon", "piano", "idea")
NEXT_WORD_P = (0.45, 0.2, 0.14, 0.09, 0.06, 0.03, 0.02, 0.01)


