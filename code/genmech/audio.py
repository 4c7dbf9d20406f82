"""Raw audio, one sample at a time: μ-law codes and a small WaveNet.

The chapter *Applications*, section *Audio*, reads this module. It implements

* :func:`mu_law_encode` and :func:`mu_law_decode`: the μ-law companding of telephone
  speech (ITU-T G.711), which WaveNet (van den Oord et al., 2016) uses to turn each audio
  sample into one of 256 classes;
* :func:`tone` and :func:`tone_dataset`: instrument-like tones synthesised in code (a few
  harmonics under a decaying envelope), the training data;
* :class:`CausalConv1d` and :class:`WaveNet`: dilated causal convolutions with gated
  activations and residual connections, predicting a distribution over the next sample's
  class from the samples before it; :func:`train_wavenet`, :func:`wavenet_nll` and
  :func:`generate_audio` train, score and sample it;
* :func:`unigram_nll` and :func:`repeat_nll`: two baselines, the codes' overall frequencies
  and "the next sample is near the last one".
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .nets import fit

CLASSES = 256     # 8-bit μ-law codes
MU = CLASSES - 1


# --------------------------------------------------------------------------- μ-law
def mu_law_encode(x, mu: int = MU) -> torch.Tensor:
    """Samples in [-1, 1] -> integer codes 0 .. mu.

    f(x) = sign(x) · ln(1 + μ|x|) / ln(1 + μ) squeezes loud values together and spreads quiet
    ones apart; the result in [-1, 1] is then cut into μ + 1 equal bins.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if not torch.isfinite(x).all():
        raise ValueError("audio samples must be finite numbers")
    x = x.clamp(-1, 1)
    f = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return ((f + 1) / 2 * mu + 0.5).floor().long().clamp(0, mu)


def mu_law_decode(codes, mu: int = MU) -> torch.Tensor:
    """Codes 0 .. mu -> samples in [-1, 1], the inverse: x = sign(f) · ((1 + μ)^|f| − 1) / μ."""
    codes = torch.as_tensor(codes)
    if codes.dtype.is_floating_point or (codes < 0).any() or (codes > mu).any():
        raise ValueError(f"μ-law codes are whole numbers from 0 to {mu}")
    f = 2 * codes.float() / mu - 1
    return torch.sign(f) * ((1 + mu) ** f.abs() - 1) / mu


def linear_encode(x, levels: int = CLASSES) -> torch.Tensor:
    """For comparison: samples in [-1, 1] cut into ``levels`` equal bins."""
    x = torch.as_tensor(x, dtype=torch.float32).clamp(-1, 1)
    return ((x + 1) / 2 * (levels - 1) + 0.5).floor().long()


def linear_decode(codes, levels: int = CLASSES) -> torch.Tensor:
    return 2 * torch.as_tensor(codes).float() / (levels - 1) - 1


def snr_db(signal, estimate) -> float:
    """Signal-to-noise ratio in dB: 10 log10(Σ x² / Σ (x − x̂)²)."""
    signal, estimate = torch.as_tensor(signal, dtype=torch.float64), torch.as_tensor(estimate, dtype=torch.float64)
    noise = ((signal - estimate) ** 2).sum()
    return math.inf if noise == 0 else 10 * math.log10(float((signal ** 2).sum() / noise))


# --------------------------------------------------------------------------- tones
def tone(freq: float, seconds: float, rate: int = 8000, harmonics=(1.0, 0.5, 0.25),
         decay: float = 3.0, amplitude: float = 0.8) -> np.ndarray:
    """A plucked, instrument-like tone: Σ_k a_k sin(2π k f t) · e^(−decay · t), float32."""
    if not freq > 0 or not seconds > 0:
        raise ValueError(f"frequency and duration must be positive, got {freq!r} and {seconds!r}")
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(a * np.sin(2 * np.pi * (k + 1) * freq * t) for k, a in enumerate(harmonics))
    wave = wave / sum(abs(a) for a in harmonics)
    return (amplitude * wave * np.exp(-decay * t)).astype(np.float32)


def tone_dataset(n: int = 40, seconds: float = 0.5, rate: int = 8000, seed: int = 0):
    """``n`` tones of random pitch (a two-octave range of semitones from C4) and random
    loudness, each ``seconds`` long: a tensor of shape (n, seconds · rate), and the pitches."""
    rng = np.random.default_rng(seed)
    pitches = rng.integers(60, 84, n)
    amps = rng.uniform(0.3, 0.9, n)
    waves = [tone(440 * 2 ** ((p - 69) / 12), seconds, rate, amplitude=a) for p, a in zip(pitches, amps)]
    return torch.tensor(np.stack(waves)), pitches


# --------------------------------------------------------------------------- the model
class CausalConv1d(nn.Conv1d):
    """A 1-D convolution that sees only the present and the past: the input is padded on
    the left by (kernel − 1) · dilation, so output t depends on inputs ≤ t."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int = 2, dilation: int = 1):
        super().__init__(channels_in, channels_out, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x):                                   # (B, C, T) -> (B, C', T)
        return super().forward(F.pad(x, (self.left, 0)))


class ResidualLayer(nn.Module):
    """WaveNet's layer: a gated activation tanh(W_f * x) ⊙ σ(W_g * x), then a 1 x 1
    convolution, added back to the input (residual) and sent to the output (skip)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = CausalConv1d(channels, 2 * channels, 2, dilation)
        self.out = nn.Conv1d(channels, channels, 1)

    def forward(self, x):                                   # (B, C, T)
        f, g = self.conv(x).chunk(2, dim=1)
        h = self.out(torch.tanh(f) * torch.sigmoid(g))
        return x + h, h                                     # (residual, skip)


class WaveNet(nn.Module):
    """Embed each μ-law code, stack residual layers with dilations 1, 2, 4, ..., and map the
    summed skip outputs to 256 logits for the *next* sample.

    The receptive field — how many past samples one prediction sees — is
    1 + Σ dilations = 2^layers samples for a kernel of 2."""

    def __init__(self, channels: int = 32, layers: int = 8):
        super().__init__()
        self.embed = nn.Embedding(CLASSES, channels)
        self.layers = nn.ModuleList(ResidualLayer(channels, 2 ** i) for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv1d(channels, CLASSES, 1))
        self.receptive_field = 1 + sum(2 ** i for i in range(layers))

    def forward(self, codes):                               # (B, T) -> (B, 256, T)
        x = self.embed(codes).transpose(1, 2)               # (B, C, T)
        skips = 0
        for layer in self.layers:
            x, s = layer(x)
            skips = skips + s
        return self.head(skips)                             # logits for samples 1 .. T


def random_windows(codes: torch.Tensor, length: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """``batch`` windows of ``length + 1`` codes, each from a random clip at a random start."""
    clip = torch.randint(0, codes.shape[0], (batch,), generator=gen)
    start = torch.randint(0, codes.shape[1] - length - 1, (batch,), generator=gen)
    return codes[clip[:, None], start[:, None] + torch.arange(length + 1)]


def train_wavenet(codes: torch.Tensor, steps: int = 400, length: int = 512, batch: int = 16,
                  lr: float = 3e-3, seed: int = 0, **model_kw):
    """Train a :class:`WaveNet` by next-sample cross-entropy on windows of ``codes``
    (n clips, T samples); returns ``(model, losses)``."""
    torch.manual_seed(seed)
    model = WaveNet(**model_kw)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)

    def batch_loss():
        w = random_windows(codes, length, batch, gen)
        return F.cross_entropy(model(w[:, :-1]), w[:, 1:])

    return model.eval(), fit(opt, batch_loss, steps)


@torch.no_grad()
def wavenet_nll(model: WaveNet, codes: torch.Tensor) -> float:
    """Mean negative log-likelihood (nats per sample) of every sample after the first of
    each clip; each prediction sees the clip from its start (the padding is silence)."""
    logits = model(codes[:, :-1])
    return F.cross_entropy(logits, codes[:, 1:]).item()


def unigram_nll(train: torch.Tensor, test: torch.Tensor) -> float:
    """Baseline: each sample drawn from the codes' overall frequencies (add-one smoothed)."""
    counts = torch.bincount(train.reshape(-1), minlength=CLASSES).double() + 1
    logp = (counts / counts.sum()).log()
    return -logp[test[:, 1:]].mean().item()


def repeat_nll(train: torch.Tensor, test: torch.Tensor) -> float:
    """Baseline: the next code given only the last one, p(c_t | c_{t−1}), counted (a bigram,
    add-one smoothed): "the next sample is near the last one"."""
    counts = torch.ones(CLASSES, CLASSES, dtype=torch.float64)
    counts.index_put_((train[:, :-1].reshape(-1), train[:, 1:].reshape(-1)),
                      torch.ones(train[:, 1:].numel(), dtype=torch.float64), accumulate=True)
    logp = (counts / counts.sum(1, keepdim=True)).log()
    return -logp[test[:, :-1], test[:, 1:]].mean().item()


@torch.no_grad()
def generate_audio(model: WaveNet, n: int, prompt: torch.Tensor, temperature: float = 1.0,
                   seed: int = 0) -> torch.Tensor:
    """Continue ``prompt`` (1-D codes) by ``n`` samples, one at a time, each drawn from the
    model's distribution (softmax of logits / temperature) given the receptive field before it."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = torch.as_tensor(prompt).long().reshape(-1).clone()
    R = model.receptive_field
    buf = torch.cat([out, torch.zeros(n, dtype=torch.long)])
    t0 = len(out)
    for t in range(t0, t0 + n):
        window = buf[max(0, t - R):t][None]
        logits = model(window)[0, :, -1] / temperature
        buf[t] = torch.multinomial(torch.softmax(logits, 0), 1, generator=gen)
    return buf
