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
  error shrinks like ``1/sqrt(n)`` (Robert & Casella, 2004);
* :class:`HistogramConvergence`: the law of large numbers as a demo, "training" being the
  drawing of more samples;
* :func:`gaussian_mle` and :class:`MaximumLikelihood`: maximum likelihood, in closed form
  and by gradient ascent on the log-likelihood;
* :func:`entropy`, :func:`cross_entropy`, :func:`kl_divergence`, :func:`gaussian_kl`
  (Shannon, 1948; Cover & Thomas, 2006) and :class:`KLFit`, one Gaussian fitted to two
  peaks by forward and by reverse KL (Minka, 2005);
* :func:`with_temperature` and :func:`temperature_figure`: reshaping a categorical
  distribution, ``p_i`` proportional to ``exp(log p_i / T)`` (Hinton et al., 2015).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from scipy.special import ndtr

from .live import Choice, Demo, Slider
from .plotting import COLORS, compact

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# --------------------------------------------------------------------------- checks
def _probabilities(p, name: str = "p") -> np.ndarray:
    """``p`` as a float64 array after checking it is a probability vector."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty 1D list of probabilities, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{name} must hold finite, non-negative probabilities, got {p}")
    if abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1, but sums to {p.sum():.6g}")
    return p


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value}")
    return float(value)


def _count(n, name: str = "n", low: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < low:
        raise ValueError(f"{name} must be an int >= {low}, got {n!r}")
    return int(n)


# --------------------------------------------------------------------------- distributions
def gaussian_pdf(x, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """The normal density ``exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))``."""
    std = _positive(std, "std")
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
        _probabilities(self.weights, "weights")
        for s in self.stds:
            _positive(s, "every std")

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
        n = _count(n, "n", 0)
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


def histogram_bar(samples, low: float, high: float, bins: int = 60, **bar) -> go.Bar:
    """A density histogram of ``samples`` on ``[low, high]`` as a plotly bar trace.

    Heights are ``count / (n x width)`` over *all* ``n`` samples, so the bars estimate the
    density even when some samples fall outside the window. Binning here rather than in the
    browser keeps the page small: 60 numbers instead of thousands of samples."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError("samples must be a non-empty 1D array")
    if not high > low:
        raise ValueError(f"need low < high, got {low} and {high}")
    counts, edges = np.histogram(samples, bins=_count(bins, "bins"), range=(low, high))
    width = edges[1] - edges[0]
    bar.setdefault("opacity", 0.45)
    return go.Bar(x=compact(edges[:-1] + width / 2), y=compact(counts / (samples.size * width)),
                  width=width, **bar)


# The two running examples of the chapter: a data distribution with two unequal peaks,
# and a symmetric two-peaked target for the KL fits.
TWO_PEAKS = Mixture(weights=(0.3, 0.7), means=(-2.0, 1.5), stds=(0.5, 0.8))
TWIN_PEAKS = Mixture(weights=(0.5, 0.5), means=(-2.0, 2.0), stds=(0.5, 0.5))


def posterior(prior, likelihood) -> np.ndarray:
    """Bayes' rule on a discrete hypothesis space: ``P(h | e) = P(e | h) P(h) / P(e)``,
    with the evidence ``P(e) = sum_h P(e | h) P(h)`` (the law of total probability)."""
    prior = _probabilities(prior, "prior")
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
    rate = _positive(rate, "rate")
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
    n, repeats = _count(n), _count(repeats, "repeats")
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


class HistogramConvergence(Demo):
    """The law of large numbers, live: a histogram of ever more samples of a mixture
    approaches its true density. One "training step" draws a batch that grows the total
    by ``growth`` (10 % by default), so the sample size grows geometrically; counts are
    kept per bin, so memory stays constant however long it runs.
    """

    title = "A histogram converging to the density"
    params = (Slider("growth", 0.02, 1.0, 0.1, log=True, label="samples added per step (fraction)"),
              Slider("bins", 10, 100, 40, integer=True, label="bins", restart=True))
    curves = ("L1 error",)
    log_curves = True
    START = 10            # samples at step 0
    MAX_BATCH = 200_000   # samples drawn in one step at most (keeps a live step fast)

    def build(self):
        self.target = TWO_PEAKS
        self.rng = np.random.default_rng(self.seed)
        self.edges = np.linspace(-4.5, 4.5, self.hp["bins"] + 1)
        self.width = self.edges[1] - self.edges[0]
        # the probability of each bin, integrated exactly from the CDF
        self.bin_mass = np.diff(self.target.cdf(self.edges))
        self.counts = np.zeros(self.hp["bins"])
        self.n = 0
        self._draw(self.START)

    def _draw(self, m: int) -> None:
        x = self.target.sample(m, self.rng)
        self.counts += np.histogram(x, self.edges)[0]
        self.n += m

    def l1_error(self) -> float:
        """``sum_bins |histogram density - true density| x width``: the area between the
        histogram and the binned truth, 0 when they match and at most 2."""
        return float(np.abs(self.counts / self.n - self.bin_mass).sum())

    def train_step(self):
        self._draw(int(min(self.MAX_BATCH, max(1, round(self.n * self.hp["growth"])))))
        return {"L1 error": self.l1_error(), "samples": float(self.n)}

    def apply(self, changed):
        pass   # the growth rate is read at every step

    def figure(self):
        fig = go.Figure()
        centers = 0.5 * (self.edges[1:] + self.edges[:-1])
        fig.add_bar(x=compact(centers), width=self.width,
                    marker=dict(color=COLORS[0], opacity=0.6), **self.frame()[0])
        xs = np.linspace(-4.5, 4.5, 400)
        fig.add_scatter(x=compact(xs), y=compact(self.target.pdf(xs)), mode="lines",
                        name="true density p(x)", line=dict(color=COLORS[3], width=2.5))
        fig.update_layout(height=380, margin=dict(l=50, r=20, t=50, b=50), bargap=0,
                          xaxis_title="x", yaxis_title="density", yaxis_range=[0, 0.8],
                          legend=dict(orientation="h", y=1.12))
        return fig

    def frame(self):
        return [dict(y=compact(self.counts / (self.n * self.width)),
                     name=f"histogram of {self.n:,} samples"), None]


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


class MaximumLikelihood(Demo):
    """Fit a Gaussian (``model="gaussian"``) or a two-component mixture (``"mixture"``) to
    data by plain gradient ascent on the average log-likelihood.

    The data are ``n`` samples from a known distribution (``ONE_PEAK`` or ``TWO_PEAKS``),
    so the fitted parameters can be compared with the true ones.
    """

    title = "Maximum likelihood by gradient ascent"
    params = (Choice("model", ("gaussian", "mixture"), "gaussian"),
              Slider("lr", 1e-3, 20.0, 0.3, log=True, label="learning rate"),
              Slider("n", 50, 5000, 1000, integer=True, label="data points", restart=True))
    curves = ("log-likelihood",)

    def build(self):
        self.truth = ONE_PEAK if self.hp["model"] == "gaussian" else TWO_PEAKS
        rng = np.random.default_rng(self.seed)
        self.x = torch.as_tensor(self.truth.sample(self.hp["n"], rng))       # (N,) float64
        k = len(self.truth.weights)
        # A deliberately poor start: equal weights, wide components left of the data.
        self.logits = torch.zeros(k, dtype=torch.float64, requires_grad=True)      # (K,)
        self.means = torch.tensor([-1.0, 0.0][:k], dtype=torch.float64, requires_grad=True)
        self.log_stds = torch.zeros(k, dtype=torch.float64, requires_grad=True)    # sigma = 1
        self.opt = torch.optim.SGD([self.logits, self.means, self.log_stds], lr=self.hp["lr"])
        with torch.no_grad():
            self.start_ll = self.log_likelihood().item()

    FALL = 50.0   # nats per point below the starting guess that count as diverged

    def check(self, metrics: dict) -> str | None:
        """Divergence here: with sigma stored as its log the numbers stay finite, but when
        gradient ascent overshoots so far that the log-likelihood falls ``FALL`` nats per
        point below the starting guess, the fit has clearly failed."""
        ll = metrics.get("log-likelihood", self.start_ll)
        if ll < self.start_ll - self.FALL:
            return (f"Diverged — the log-likelihood fell to {ll:.3g} per point at step "
                    f"{self.steps}, far below the starting guess ({self.start_ll:.3g}): "
                    "the steps overshoot. Try a smaller learning rate, then press Reset.")
        return None

    def apply(self, changed):
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]

    def log_likelihood(self) -> torch.Tensor:
        return mixture_log_prob(self.x, self.logits, self.means, self.log_stds).mean()

    def train_step(self):
        ll = self.log_likelihood()
        self.opt.zero_grad()
        (-ll).backward()        # ascend the log-likelihood = descend its negative
        self.opt.step()
        return {"log-likelihood": ll.item()}

    def fitted(self) -> Mixture | None:
        """The current model as a :class:`Mixture`, components sorted by mean (None if not finite)."""
        w = torch.softmax(self.logits, 0).detach().numpy()
        m = self.means.detach().numpy()
        with np.errstate(over="ignore"):
            s = np.exp(self.log_stds.detach().numpy())
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(m)) and np.all(np.isfinite(s))
                and np.all(s > 0)):
            return None
        order = np.argsort(m)
        w = w[order] / w.sum()
        return Mixture(tuple(map(float, w)), tuple(map(float, m[order])), tuple(map(float, s[order])))

    GRID = np.linspace(-5, 5, 300)

    def figure(self):
        fig = go.Figure()
        x = self.x.numpy()
        counts, edges = np.histogram(x, bins=40, range=(-5, 5), density=True)
        fig.add_bar(x=compact(0.5 * (edges[1:] + edges[:-1])), y=compact(counts),
                    width=edges[1] - edges[0], name="data (histogram)",
                    marker=dict(color=COLORS[0], opacity=0.35))
        fig.add_scatter(x=compact(self.GRID), y=compact(self.truth.pdf(self.GRID)), mode="lines",
                        name="true density", line=dict(color="gray", dash="dash", width=1.5))
        fig.add_scatter(mode="lines", name="fitted density", line=dict(color=COLORS[3], width=3),
                        x=compact(self.GRID), **self.frame()[2])
        fig.update_layout(height=380, margin=dict(l=50, r=20, t=50, b=50), bargap=0,
                          xaxis_title="x", yaxis_title="density", yaxis_range=[0, 0.75],
                          legend=dict(orientation="h", y=1.12))
        return fig

    def frame(self):
        model = self.fitted()
        y = model.pdf(self.GRID) if model is not None else np.zeros_like(self.GRID)
        return [None, None, dict(y=compact(y))]


# --------------------------------------------------------------------------- information
def entropy(p) -> float:
    """Shannon entropy ``H(p) = -sum_i p_i log p_i`` in nats (``0 log 0 = 0``)."""
    p = _probabilities(p)
    nz = p > 0
    return float(-(p[nz] * np.log(p[nz])).sum())


def cross_entropy(p, q) -> float:
    """``H(p, q) = -sum_i p_i log q_i``: the average code length, in nats, of events drawn
    from ``p`` coded for ``q``. Infinite if ``q`` gives zero to an outcome ``p`` allows."""
    p, q = _probabilities(p), _probabilities(q, "q")
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
    = log(std2/std1) + (std1^2 + (mu1 - mu2)^2) / (2 std2^2) - 1/2`` (derived in the text)."""
    std1, std2 = _positive(std1, "std1"), _positive(std2, "std2")
    return math.log(std2 / std1) + (std1**2 + (mu1 - mu2) ** 2) / (2 * std2**2) - 0.5


def monte_carlo_kl(p: Mixture, q: Mixture, n: int, rng: np.random.Generator) -> float:
    """``KL(p || q) ~ (1/n) sum_i [log p(x_i) - log q(x_i)]`` with ``x_i ~ p``."""
    x = torch.as_tensor(p.sample(_count(n), rng))
    return float((p.log_prob(x) - q.log_prob(x)).mean())


class KLFit(Demo):
    """One Gaussian ``q`` fitted to the two-peaked ``TWIN_PEAKS`` twice, side by side, by
    gradient descent: on the forward ``KL(p || q)`` (left) and on the reverse ``KL(q || p)``
    (right). Both fits start from the same Gaussian, a little right of the middle.

    In one dimension both divergences can be computed almost exactly, so the loss is
    deterministic: the forward one as an integral over a fine grid (``p`` is fixed), the
    reverse one as an expectation under ``q`` by Gauss-Hermite quadrature,
    ``E_q[f(x)] = E_z[f(mu + sigma z)]`` with ``z ~ N(0, 1)``, which stays accurate however
    narrow or wide ``q`` becomes.
    """

    title = "Forward vs reverse KL: one Gaussian, two peaks"
    params = (Slider("lr", 1e-3, 20.0, 0.2, log=True, label="learning rate"),
              Slider("start", -1.5, 1.5, 1.0, step=0.1, label="starting mean", restart=True))
    curves = ("forward KL(p‖q)", "reverse KL(q‖p)")
    GRID = torch.linspace(-8, 8, 1601, dtype=torch.float64)
    _nodes, _weights = np.polynomial.hermite_e.hermegauss(80)
    NODES = torch.as_tensor(_nodes)                                   # z_j, (J,)
    WEIGHTS = torch.as_tensor(_weights / math.sqrt(2 * math.pi))      # sum to 1, (J,)

    def build(self):
        self.target = TWIN_PEAKS
        self.log_p = self.target.log_prob(self.GRID)                   # (G,)
        self.p = torch.exp(self.log_p)
        self.dx = float(self.GRID[1] - self.GRID[0])
        self.neg_entropy_p = float((self.p * self.log_p).sum() * self.dx)   # -H(p)
        # params_[0] = (mean, log std) fitted by forward KL; params_[1] by reverse KL
        self.params_ = [torch.tensor([self.hp["start"], 0.0], dtype=torch.float64, requires_grad=True)
                        for _ in range(2)]
        self.opt = torch.optim.SGD(self.params_, lr=self.hp["lr"])

    def apply(self, changed):
        for group in self.opt.param_groups:
            group["lr"] = self.hp["lr"]

    def forward_kl(self, theta) -> torch.Tensor:
        """``KL(p || q) = -H(p) - integral p log q dx``: large wherever p has mass q misses."""
        log_q = gaussian_log_prob(self.GRID, theta[0], theta[1])
        return self.neg_entropy_p - (self.p * log_q).sum() * self.dx

    def reverse_kl(self, theta) -> torch.Tensor:
        """``KL(q || p) = -H(q) - E_q[log p]``, with the Gaussian entropy
        ``H(q) = log(sigma sqrt(2 pi e))``: large wherever q puts mass p lacks."""
        mean, log_std = theta[0], theta[1]
        x = mean + torch.exp(log_std) * self.NODES
        entropy_q = log_std + 0.5 * math.log(2 * math.pi * math.e)
        return -entropy_q - (self.WEIGHTS * self.target.log_prob(x)).sum()

    def train_step(self):
        fwd, rev = self.forward_kl(self.params_[0]), self.reverse_kl(self.params_[1])
        self.opt.zero_grad()
        (fwd + rev).backward()      # independent parameters: one backward serves both fits
        self.opt.step()
        return {"forward KL(p‖q)": fwd.item(), "reverse KL(q‖p)": rev.item()}

    def fits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((mean, std) by forward KL, (mean, std) by reverse KL)``."""
        out = []
        for theta in self.params_:
            m, ls = theta.detach().tolist()
            out.append((m, math.exp(min(ls, 700.0))))
        return tuple(out)

    def figure(self):
        fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                            subplot_titles=("forward KL(p‖q): mean-seeking",
                                            "reverse KL(q‖p): mode-seeking"))
        xs = self.GRID.numpy()[::4]
        data = self.frame()
        for col in (1, 2):
            fig.add_scatter(x=compact(xs), y=compact(self.p.numpy()[::4]), mode="lines",
                            fill="tozeroy", name="target p (two peaks)", showlegend=col == 1,
                            line=dict(color="gray", width=1.5), row=1, col=col)
            fig.add_scatter(x=compact(xs), mode="lines", name="fitted Gaussian q",
                            showlegend=col == 1, line=dict(color=COLORS[2 * col - 2], width=3),
                            row=1, col=col, **data[2 * col - 1])
        fig.update_xaxes(range=[-5, 5], title="x")
        fig.update_yaxes(range=[0, 0.9], title="density", row=1, col=1)
        fig.update_layout(height=400, margin=dict(l=50, r=20, t=95, b=50),
                          legend=dict(orientation="h", y=1.28))
        return fig

    def frame(self):
        xs = self.GRID[::4]
        out = []
        for theta in self.params_:
            with torch.no_grad():
                q = torch.exp(gaussian_log_prob(xs, theta[0], theta[1])).numpy()
            out += [None, dict(y=compact(np.nan_to_num(q, nan=0.0, posinf=0.0)))]
        return out


# --------------------------------------------------------------------------- temperature
def with_temperature(p, temperature: float) -> np.ndarray:
    """``p_i(T) = exp(log p_i / T) / sum_j exp(log p_j / T)``, i.e. ``p_i^(1/T)`` renormalised.

    ``T = 1`` keeps ``p``; ``T -> 0`` puts all mass on the most likely outcome; ``T -> inf``
    flattens ``p`` towards uniform (over the outcomes ``p`` allows)."""
    p = _probabilities(p)
    temperature = _positive(temperature, "temperature")
    logits = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), -np.inf) / temperature
    logits -= logits.max()                       # softmax, shifted for stability
    q = np.exp(logits)
    return q / q.sum()


# Five next words after "The cat sat on the", with made-up but plausible probabilities.
NEXT_WORDS = ("mat", "sofa", "floor", "roof", "keyboard", "moon", "piano", "idea")
NEXT_WORD_P = (0.45, 0.2, 0.14, 0.09, 0.06, 0.03, 0.02, 0.01)


def temperature_figure(p=NEXT_WORD_P, labels=NEXT_WORDS, temperatures=None) -> go.Figure:
    """A bar chart of ``with_temperature(p, T)`` with a plotly slider over ``T``.

    The slider is part of the figure (``layout.sliders`` with ``update`` steps), so it works
    on the static site and in a kernel with no Python callback. The entropy is read out in
    the title; the slider's ends are labelled "conservative" and "random".
    """
    p = _probabilities(p)
    if len(labels) != p.size:
        raise ValueError(f"need one label per probability: {len(labels)} labels, {p.size} probabilities")
    if temperatures is None:
        temperatures = np.round(np.geomspace(0.1, 10.0, 41), 3)
    temperatures = [float(t) for t in temperatures]
    h_max = math.log(p.size)

    def title(t):
        q = with_temperature(p, t)
        return (f"T = {t:.2g}: entropy {entropy(q):.2f} nats "
                f"(0 = certain, {h_max:.2f} = uniform); top word {q.max():.0%}")

    start = min(range(len(temperatures)), key=lambda i: abs(temperatures[i] - 1.0))
    fig = go.Figure(go.Bar(x=list(labels), y=compact(with_temperature(p, temperatures[start])),
                           marker_color=COLORS[0], text=None))
    steps = [dict(method="update", label=f"{t:g}",
                  args=[{"y": [compact(with_temperature(p, t))]}, {"title.text": title(t)}])
             for t in temperatures]
    fig.update_layout(
        title=dict(text=title(temperatures[start]), font=dict(size=15)),
        height=430, margin=dict(l=50, r=30, t=60, b=130),
        yaxis=dict(range=[0, 1], title="probability"), xaxis_title="next word",
        sliders=[dict(active=start, steps=steps, x=0.17, len=0.66, y=-0.22, yanchor="top",
                      currentvalue=dict(prefix="temperature T = ", visible=True))],
        # the ends of the slider, labelled at the height of its rail
        annotations=[dict(text="◀ conservative", x=0.165, y=-0.47, xref="paper", yref="paper",
                          showarrow=False, xanchor="right", yanchor="middle",
                          font=dict(color=COLORS[0], size=13)),
                     dict(text="random ▶", x=0.835, y=-0.47, xref="paper", yref="paper",
                          showarrow=False, xanchor="left", yanchor="middle",
                          font=dict(color=COLORS[3], size=13))],
    )
    return fig


def temperature_widget(p=NEXT_WORD_P, labels=NEXT_WORDS):
    """The same picture driven by an ipywidgets slider, for a live kernel: a continuous,
    logarithmic temperature and a sample of ten words drawn at that temperature. The figure
    is a :class:`genmech.livefigure.LiveFigure`, which redraws reliably in JupyterLab."""
    import ipywidgets as w

    from .livefigure import LiveFigure

    p = _probabilities(p)

    def figure(t: float) -> go.Figure:
        q = with_temperature(p, t)
        fig = go.Figure(go.Bar(x=list(labels), y=compact(q), marker_color=COLORS[0]))
        fig.update_layout(title=f"T = {t:.2f}: entropy {entropy(q):.2f} nats", height=380,
                          yaxis=dict(range=[0, 1], title="probability"), xaxis_title="next word",
                          margin=dict(l=50, r=30, t=60, b=50))
        return fig

    fig = LiveFigure(figure(1.0))
    slider = w.FloatLogSlider(value=1.0, min=-1, max=1, step=0.01, description="temperature",
                              readout_format=".2f", style={"description_width": "initial"})
    text = w.HTML()
    rng = np.random.default_rng(0)

    def redraw(change=None):
        fig.set_figure(figure(slider.value))
        words = rng.choice(list(labels), size=10, p=with_temperature(p, slider.value))
        text.value = "ten samples: <i>" + ", ".join(words) + "</i>"

    slider.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([w.Label("conservative"), slider, w.Label("random")]), fig, text])
