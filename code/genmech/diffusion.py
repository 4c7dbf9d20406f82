"""Denoising diffusion models (Sohl-Dickstein et al., 2015; Ho et al., 2020), small enough to watch.

The chapter *Diffusion models* reads this module. Notation follows Ho et al. (2020): a
clean sample is ``x_0``, time runs ``t = 1, ..., T``, and

* the **noise schedule** :class:`Schedule` holds ``beta_t`` (the variance of the noise added
  at step t), ``alpha_t = 1 - beta_t`` and ``alpha_bar_t = alpha_1 ... alpha_t``, with the
  entry ``t = 0`` meaning "no noise" (``alpha_bar_0 = 1``); :func:`make_schedule` builds the
  linear schedule of Ho et al. and the cosine schedule of Nichol & Dhariwal (2021);
* the **forward process** adds noise one step at a time, :func:`forward_step`
  ``x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps``, or jumps there in one go,
  :func:`q_sample` ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``;
  :func:`posterior` is ``q(x_{t-1} | x_t, x_0)``, the Gaussian the reverse process imitates;
* the **loss** :func:`loss` is the simplified objective ``E ||eps - eps_theta(x_t, t)||^2``,
  and :func:`elbo_weight` the weight the ELBO would put on each t;
* the **denoiser** :class:`Denoiser` is a multilayer perceptron fed ``x_t``, a sin/cos
  embedding of ``t`` (:func:`time_embedding`) and, optionally, a class label (a "no label"
  class stands for the unconditional model); :class:`Diffusion` trains it;
* the **samplers**: :func:`ddpm_step` (ancestral sampling, Ho et al., 2020), :func:`ddim_step`
  (Song, Meng & Ermon, 2021; ``eta = 0`` is deterministic) and :func:`sample`, which runs
  either over all T steps or a subsequence of them, with classifier-free guidance
  (:func:`guided_eps`, Ho & Salimans, 2022);
* the **bound**: :func:`negative_elbo` adds up ``-log p(x_0) <= L_T + sum_t L_{t-1} + L_0``
  (:func:`prior_kl`, :func:`elbo_weight`, :func:`discretized_gaussian_nll`) for data on a
  few grey levels, the likelihood a diffusion model can report;
* the **score** reading: :func:`score` turns a noise prediction into ``grad log q_t(x)``
  (Song & Ermon, 2019; Song et al., 2021); :func:`mixture_eps` is the exact, ideal noise
  prediction for a mixture of Gaussians (the ring), to compare a trained network with.

A noise predictor is any callable ``eps_fn(x, t) -> eps`` with ``x`` of shape (n, d) and
``t`` an int in 1..T. The chapter's demos and figures are in :mod:`genmech.diffusion_demos`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .nets import check_sizes, mlp, set_learning_rate

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("DDPM", "DDIM")

EpsFn = Callable[[torch.Tensor, int], torch.Tensor]


# --------------------------------------------------------------------------- the schedule
@dataclass
class Schedule:
    """A noise schedule: tensors of length ``T + 1`` indexed by t = 0..T (entry 0: no noise)."""

    name: str
    betas: torch.Tensor        # beta_t, the variance added at step t (beta_0 = 0)

    def __post_init__(self):
        self.alphas = 1 - self.betas                          # alpha_t
        self.alpha_bars = torch.cumprod(self.alphas, 0)       # alpha_bar_t = prod_{s<=t} alpha_s

    @property
    def T(self) -> int:
        return len(self.betas) - 1

    def check_t(self, t) -> int:
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= self.T:
            raise ValueError(f"t must be an int between 1 and T = {self.T}, got {t!r}")
        return t

    def signal_to_noise(self) -> torch.Tensor:
        """``alpha_bar_t / (1 - alpha_bar_t)`` for t = 1..T: how much of x_0 is left at each step."""
        ab = self.alpha_bars[1:]
        return ab / (1 - ab)


def make_schedule(name: str = "linear", T: int = 100) -> Schedule:
    """The noise schedule ``name`` (one of :data:`SCHEDULES`) over ``T`` steps.

    * ``linear`` (Ho et al., 2020): ``beta_t`` grows linearly from 1e-4 to 0.02 over 1,000
      steps; for another T both ends are scaled by 1000 / T, so the total noise is the same.
    * ``cosine`` (Nichol & Dhariwal, 2021): ``alpha_bar_t = f(t) / f(0)`` with
      ``f(t) = cos^2((t / T + s) / (1 + s) * pi / 2)``, s = 0.008; ``beta_t`` is clipped at
      0.999 so the last step stays finite.
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    if isinstance(T, bool) or not isinstance(T, int) or T < 2:
        raise ValueError(f"T must be an int of at least 2, got {T!r}")
    if name == "linear":
        scale = 1000 / T
        betas = torch.linspace(1e-4 * scale, min(0.02 * scale, 0.999), T, dtype=torch.float64)
    else:
        s = 0.008
        t = torch.arange(T + 1, dtype=torch.float64)
        f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bars = f / f[0]
        betas = (1 - alpha_bars[1:] / alpha_bars[:-1]).clamp(max=0.999)
    return Schedule(name, torch.cat([torch.zeros(1, dtype=torch.float64), betas]).float())


# --------------------------------------------------------------------------- the forward process
def forward_step(schedule: Schedule, x_prev: torch.Tensor, t: int, eps: torch.Tensor | None = None):
    """One step of noise: ``x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps``, eps ~ N(0, I)."""
    schedule.check_t(t)
    eps = torch.randn_like(x_prev) if eps is None else eps
    return schedule.alphas[t].sqrt() * x_prev + schedule.betas[t].sqrt() * eps


def q_sample(schedule: Schedule, x0: torch.Tensor, t, eps: torch.Tensor | None = None):
    """The closed form ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``.

    ``t`` is an int or a tensor of ints (one per row of ``x0``); returns ``x_t`` (same shape
    as ``x0``). Drawing it is one step, whatever t: this is what makes training cheap.
    """
    t = torch.as_tensor(t)
    if ((t < 0) | (t > schedule.T)).any():
        raise ValueError(f"t must lie between 0 and T = {schedule.T}")
    ab = schedule.alpha_bars[t].reshape(-1, *([1] * (x0.ndim - 1))) if t.ndim else schedule.alpha_bars[t]
    eps = torch.randn_like(x0) if eps is None else eps
    return ab.sqrt() * x0 + (1 - ab).sqrt() * eps


def posterior(schedule: Schedule, x0: torch.Tensor, x_t: torch.Tensor, t: int):
    """``q(x_{t-1} | x_t, x_0) = N(mean, var)``: the step back when x_0 is known.

    mean = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
           + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
    var  = beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t
    """
    schedule.check_t(t)
    a, ab, ab_prev, b = (schedule.alphas[t], schedule.alpha_bars[t],
                         schedule.alpha_bars[t - 1], schedule.betas[t])
    mean = ab_prev.sqrt() * b / (1 - ab) * x0 + a.sqrt() * (1 - ab_prev) / (1 - ab) * x_t
    return mean, (1 - ab_prev) / (1 - ab) * b


def elbo_weight(schedule: Schedule) -> torch.Tensor:
    """The weight of ``||eps - eps_theta||^2`` at each t = 2..T in the ELBO (index 0 is t = 2).

    With the reverse variance ``sigma_t^2 = beta~_t`` the KL term of step t is
    ``beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t)) ||eps - eps_theta||^2``; the simplified
    loss of Ho et al. (2020) sets every weight to 1.
    """
    t = torch.arange(2, schedule.T + 1)
    b, a, ab, ab_prev = schedule.betas[t], schedule.alphas[t], schedule.alpha_bars[t], schedule.alpha_bars[t - 1]
    var = (1 - ab_prev) / (1 - ab) * b
    return b ** 2 / (2 * var * a * (1 - ab))


# --------------------------------------------------------------------------- the denoiser
def time_embedding(t: torch.Tensor, T: int, dim: int = 16) -> torch.Tensor:
    """Sines and cosines of t at ``dim / 2`` frequencies from 1 to 1/T radians per step:
    fast ones tell neighbouring steps apart, slow ones say roughly where in 0..T we are.
    ``t`` (n,) -> (n, dim)."""
    if dim < 2 or dim % 2:
        raise ValueError(f"the time embedding needs an even dim >= 2, got {dim}")
    half = dim // 2
    freqs = T ** (-torch.arange(half, dtype=torch.float32) / max(half - 1, 1))   # 1 ... 1/T
    angles = t.float().reshape(-1, 1) * freqs                                   # (n, half)
    return torch.cat([angles.sin(), angles.cos()], 1)                          # (n, dim)


@dataclass
class DiffusionConfig:
    """Everything that defines a small diffusion model (the lab's controls)."""

    dim: int = 2                 # dimension of a data point (2 for the plane, 64 for digits)
    T: int = 100                 # number of noise steps
    schedule: str = "linear"     # one of SCHEDULES
    hidden: int = 128            # units per hidden layer of the denoiser
    layers: int = 3              # hidden layers
    emb: int = 16                # size of the time embedding (and of the label embedding)
    classes: int = 0             # 0: unconditional; k: labels 0..k-1 (and k = "no label")
    p_uncond: float = 0.1        # while training, the share of labels dropped (guidance)
    lr: float = 2e-3             # Adam's learning rate
    batch: int = 256             # samples per update


class Denoiser(nn.Module):
    """``eps_theta(x_t, t, y)``: a multilayer perceptron that guesses the noise in ``x_t``.

    Its input is ``x_t`` (n, dim), the time embedding (n, emb) and, for a conditional model,
    a learned embedding of the label (n, emb), concatenated; its output has x's shape.
    The label ``classes`` means "no label": the same network is then the unconditional model.
    """

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        check_sizes([cfg.dim, cfg.hidden, cfg.emb])
        self.cfg = cfg
        width = cfg.dim + cfg.emb + (cfg.emb if cfg.classes else 0)
        self.net = mlp([width] + [cfg.hidden] * cfg.layers + [cfg.dim], "gelu")
        self.label = nn.Embedding(cfg.classes + 1, cfg.emb) if cfg.classes else None

    def forward(self, x, t, y=None):                                  # (n, dim) -> (n, dim)
        t = torch.as_tensor(t).expand(len(x)) if torch.as_tensor(t).ndim == 0 else t
        parts = [x, time_embedding(t, self.cfg.T, self.cfg.emb)]
        if self.label is not None:
            y = torch.full((len(x),), self.cfg.classes) if y is None else y
            parts.append(self.label(y))
        return self.net(torch.cat(parts, 1))


def loss(model: Denoiser, schedule: Schedule, x0: torch.Tensor, y: torch.Tensor | None = None):
    """The simplified DDPM objective: ``E_{t, x_0, eps} ||eps - eps_theta(x_t, t)||^2``,
    averaged over coordinates. t is uniform on 1..T, eps ~ N(0, I), ``x_t`` by :func:`q_sample`."""
    t = torch.randint(1, schedule.T + 1, (len(x0),))                 # (n,)
    eps = torch.randn_like(x0)                                        # (n, dim)
    x_t = q_sample(schedule, x0, t, eps)
    return ((eps - model(x_t, t, y)) ** 2).mean()


class Diffusion:
    """A denoiser, its schedule, its data and its optimizer. :meth:`step` is one Adam update
    on a random batch; with labels, each label is dropped (replaced by "no label") with
    probability ``p_uncond``, so one network learns both the conditional and the
    unconditional model (Ho & Salimans, 2022)."""

    def __init__(self, data: torch.Tensor, cfg: DiffusionConfig | None = None, labels=None):
        cfg = cfg or DiffusionConfig(dim=data.shape[1])
        if data.ndim != 2 or data.shape[1] != cfg.dim:
            raise ValueError(f"data must have shape (n, {cfg.dim}), got {tuple(data.shape)}")
        if (labels is None) != (cfg.classes == 0):
            raise ValueError("pass labels exactly when cfg.classes > 0")
        if not 0 <= cfg.p_uncond < 1:
            raise ValueError(f"p_uncond must be in [0, 1), got {cfg.p_uncond}")
        self.data, self.labels, self.cfg = data, labels, cfg
        self.schedule = make_schedule(cfg.schedule, cfg.T)
        self.model = Denoiser(cfg)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.last_loss = float("nan")

    def step(self) -> float:
        idx = torch.randint(len(self.data), (self.cfg.batch,))
        y = None
        if self.labels is not None:
            y = self.labels[idx].clone()
            y[torch.rand(len(y)) < self.cfg.p_uncond] = self.cfg.classes        # "no label"
        value = loss(self.model, self.schedule, self.data[idx], y)
        self.opt.zero_grad()
        value.backward()
        self.opt.step()
        self.last_loss = value.item()
        return self.last_loss

    def set_learning_rate(self, lr: float) -> None:
        set_learning_rate(self.opt, lr)

    def eps_fn(self, y=None, guidance: float = 1.0) -> EpsFn:
        """The trained network as a noise predictor ``eps_fn(x, t)``; with labels ``y`` and a
        guidance scale, classifier-free guided (:func:`guided_eps`)."""
        def eps(x, t):
            with torch.no_grad():
                if y is None:
                    return self.model(x, t)
                return guided_eps(self.model(x, t, y), self.model(x, t), guidance)
        return eps

    def sample(self, n: int = 1000, **kw) -> torch.Tensor:
        """``n`` samples from the trained model; keywords as :func:`sample` (and ``y``,
        ``guidance`` for a conditional model)."""
        y, guidance = kw.pop("y", None), kw.pop("guidance", 1.0)
        return sample(self.eps_fn(y, guidance), self.schedule, (n, self.cfg.dim), **kw)


def train(data: torch.Tensor, cfg: DiffusionConfig | None = None, steps: int = 3000,
          seed: int = 0, labels=None) -> tuple[Diffusion, list]:
    """Train a :class:`Diffusion` for ``steps`` updates from seed ``seed``; returns it and its losses."""
    torch.manual_seed(seed)
    model = Diffusion(data, cfg, labels)
    return model, [model.step() for _ in range(steps)]


# --------------------------------------------------------------------------- the bound on -log p(x_0)
def prior_kl(schedule: Schedule, x0: torch.Tensor) -> torch.Tensor:
    """``L_T = KL(q(x_T | x_0) || N(0, I))`` per sample, in nats: the Gaussian KL of
    ``N(sqrt(ab_T) x_0, (1 - ab_T) I)`` from ``N(0, I)``, summed over coordinates. (n,)"""
    ab = schedule.alpha_bars[-1].double()
    x0 = x0.double()
    return 0.5 * (ab * x0 ** 2 + (1 - ab) - 1 - torch.log(1 - ab)).sum(1)


def discretized_gaussian_nll(x0: torch.Tensor, mean: torch.Tensor, std: float, levels: int) -> torch.Tensor:
    """``-log p(x_0 | x_1)`` per sample (nats) for data on ``levels`` evenly spaced values in
    [-1, 1]: the probability of a value is the mass of ``N(mean, std^2)`` on its bin (half a
    spacing either side; the two end bins reach to -inf and +inf), as Ho et al. (2020, eq. 13)."""
    half = 1.0 / (levels - 1)
    normal = torch.distributions.Normal(mean.double(), std)
    x0 = x0.double()
    upper = torch.where(x0 > 1 - half, torch.ones_like(x0), normal.cdf(x0 + half))
    lower = torch.where(x0 < -1 + half, torch.zeros_like(x0), normal.cdf(x0 - half))
    return -torch.log((upper - lower).clamp(min=1e-12)).sum(1)


@torch.no_grad()
def negative_elbo(model: "Denoiser", schedule: Schedule, x0: torch.Tensor, levels: int,
                  seed: int = 0) -> dict:
    """The variational bound ``-log p(x_0) <= L_T + sum_{t=2}^T L_{t-1} + L_0`` (Ho et al., 2020,
    eq. 5), per image in nats, for data on ``levels`` grey levels scaled to [-1, 1].

    ``L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))`` is :func:`elbo_weight` times
    ``||eps - eps_theta(x_t, t)||^2``, estimated with one draw of eps per image and step;
    ``L_0`` is :func:`discretized_gaussian_nll` of x_0 around the DDPM mean from x_1 (with
    ``sigma_1^2 = beta_1``). Returns the three parts and their sum (means over the images),
    and ``per_step``, the mean of each ``L_{t-1}`` for t = 2..T.
    """
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an int of at least 2, got {levels!r}")
    if x0.ndim != 2 or x0.abs().max() > 1 + 1e-6:
        raise ValueError("x0 must be an (n, d) batch of data scaled to [-1, 1]")
    g = torch.Generator().manual_seed(seed)
    weights = elbo_weight(schedule).double()                             # t = 2..T
    per_t = []                                                           # L_{t-1}, t = 2..T
    for t in range(2, schedule.T + 1):
        eps = torch.randn(x0.shape, generator=g)
        x_t = q_sample(schedule, x0, t, eps)
        err = ((eps - model(x_t, torch.full((len(x0),), t))) ** 2).sum(1).double()
        per_t.append(weights[t - 2] * err)
    steps = torch.stack(per_t).sum(0)
    eps = torch.randn(x0.shape, generator=g)
    x1 = q_sample(schedule, x0, 1, eps)
    b1, ab1 = schedule.betas[1], schedule.alpha_bars[1]
    mean = (x1 - b1 / (1 - ab1).sqrt() * model(x1, torch.ones(len(x0), dtype=torch.long))) / schedule.alphas[1].sqrt()
    decoder = discretized_gaussian_nll(x0, mean, float(b1.sqrt()), levels)
    prior = prior_kl(schedule, x0)
    total = prior + steps + decoder
    return {"prior": float(prior.mean()), "steps": float(steps.mean()),
            "decoder": float(decoder.mean()), "total": float(total.mean()),
            "per_step": torch.stack(per_t).mean(1)}                     # (T - 1,): t = 2..T


# --------------------------------------------------------------------------- guidance and scores
def guided_eps(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans, 2022): ``eps_uncond + s (eps_cond - eps_uncond)``.
    s = 0 is the unconditional model, s = 1 the conditional one, s > 1 pushes further
    towards what makes the label likely."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def score(eps: torch.Tensor, schedule: Schedule, t: int) -> torch.Tensor:
    """The score ``grad_x log q_t(x) = -eps / sqrt(1 - alpha_bar_t)`` a noise prediction implies."""
    schedule.check_t(t)
    return -eps / (1 - schedule.alpha_bars[t]).sqrt()


def mixture_eps(centers, std: float, schedule: Schedule) -> EpsFn:
    """The ideal noise predictor for data from an equal mixture of Gaussians ``N(c_k, std^2 I)``.

    Noised, the data is the mixture of ``N(sqrt(alpha_bar_t) c_k, s_t^2 I)`` with
    ``s_t^2 = alpha_bar_t std^2 + 1 - alpha_bar_t``, whose score is
    ``sum_k w_k(x) (sqrt(alpha_bar_t) c_k - x) / s_t^2`` (``w_k`` the posterior weights of the
    components); the best possible eps-prediction is ``-sqrt(1 - alpha_bar_t)`` times it.
    """
    c = torch.as_tensor(centers, dtype=torch.float32)

    def eps(x, t):
        ab = schedule.alpha_bars[t]
        var = ab * std ** 2 + 1 - ab
        diff = ab.sqrt() * c[None] - x[:, None]                       # (n, k, d)
        w = torch.softmax(-(diff ** 2).sum(-1) / (2 * var), 1)         # (n, k)
        grad = (w[..., None] * diff).sum(1) / var                      # (n, d): the score
        return -(1 - ab).sqrt() * grad
    return eps


# --------------------------------------------------------------------------- sampling
def ddpm_step(schedule: Schedule, x_t: torch.Tensor, t: int, eps: torch.Tensor,
              z: torch.Tensor | None = None) -> torch.Tensor:
    """One step of ancestral sampling (Ho et al., 2020, Algorithm 2):

    ``x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sigma_t z``,

    the posterior mean with x_0 replaced by its guess from ``eps``; ``sigma_t^2 = beta~_t``,
    the posterior variance (0 at t = 1, so the last step adds no noise).
    """
    schedule.check_t(t)
    a, ab, b = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
    mean = (x_t - b / (1 - ab).sqrt() * eps) / a.sqrt()
    var = (1 - schedule.alpha_bars[t - 1]) / (1 - ab) * b
    z = torch.randn_like(x_t) if z is None else z
    return mean + var.sqrt() * z


def predicted_x0(schedule: Schedule, x_t: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
    """The guess of the clean sample: ``x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)``."""
    ab = schedule.alpha_bars[t]
    return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()


def ddim_step(schedule: Schedule, x_t: torch.Tensor, t: int, t_prev: int, eps: torch.Tensor,
              eta: float = 0.0, z: torch.Tensor | None = None) -> torch.Tensor:
    """One DDIM step from t to an earlier ``t_prev`` (Song, Meng & Ermon, 2021, eq. 12):

    ``x_prev = sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps + sigma z``

    with ``sigma = eta sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_prev)``.
    ``eta = 0``: deterministic; ``eta = 1`` with ``t_prev = t - 1``: the DDPM step.
    """
    schedule.check_t(t)
    if isinstance(t_prev, bool) or not isinstance(t_prev, int) or not 0 <= t_prev < t:
        raise ValueError(f"t_prev must be an int in [0, t) = [0, {t}), got {t_prev!r}")
    if not 0 <= eta <= 1:
        raise ValueError(f"eta must be between 0 and 1, got {eta}")
    ab, ab_prev = schedule.alpha_bars[t], schedule.alpha_bars[t_prev]
    x0 = predicted_x0(schedule, x_t, t, eps)
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
    out = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps
    if eta > 0:
        out = out + sigma * (torch.randn_like(x_t) if z is None else z)
    return out


def timesteps(T: int, steps: int) -> list[int]:
    """``steps`` evenly spaced times from T down to 1 (the DDIM subsequence), then 0."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= T:
        raise ValueError(f"the number of sampling steps must be an int between 1 and T = {T}, got {steps!r}")
    ts = torch.linspace(T, 1, steps).round().long().tolist()
    return ts + [0]


def sample(eps_fn: EpsFn, schedule: Schedule, shape, method: str = "DDPM", steps: int | None = None,
           eta: float = 0.0, x_T: torch.Tensor | None = None, generator: torch.Generator | None = None,
           trajectory: bool = False):
    """Generate from noise: start at ``x_T ~ N(0, I)`` and step back to ``x_0``.

    ``method="DDPM"`` takes all T ancestral steps (``steps`` must be None or T);
    ``method="DDIM"`` takes ``steps`` steps (default T) along :func:`timesteps` with
    noise level ``eta``. ``generator`` makes the draw reproducible without touching the
    global random state. With ``trajectory=True`` returns ``(x_0, [(t, x_t), ...])``, the
    states visited, from T down to 0.
    """
    if method not in SAMPLERS:
        raise ValueError(f"unknown sampler {method!r}; choose one of {', '.join(SAMPLERS)}")
    T = schedule.T
    if method == "DDPM" and steps not in (None, T):
        raise ValueError(f"DDPM takes all T = {T} steps; use method='DDIM' for fewer")
    ts = timesteps(T, T if steps is None else steps)

    def noise():
        return torch.randn(shape, generator=generator)

    x = noise() if x_T is None else x_T.clone()
    states = [(T, x)]
    with torch.no_grad():
        for t, t_prev in zip(ts[:-1], ts[1:]):
            eps = eps_fn(x, t)
            if method == "DDPM":
                x = ddpm_step(schedule, x, t, eps, noise())
            else:
                x = ddim_step(schedule, x, t, t_prev, eps, eta, noise() if eta > 0 else None)
            if trajectory:
                states.append((t_prev, x))
    return (x, states) if trajectory else x
