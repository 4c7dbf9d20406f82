"""Figures of the probability chapter: fit times and recovered parameters, the Monte Carlo
error slope, and the time of each demo (printed, never asserted: machines are noisy)."""
from __future__ import annotations

import time

import numpy as np

from genmech import probability as P, probability_demos as P_demos


def timed(label, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{label:<58} {time.perf_counter() - start:7.3f} s")
    return out


def main() -> None:
    print("-- timings (2 shared CPU cores: expect contention)")
    gauss = P_demos.MaximumLikelihood(model="gaussian")
    timed("MLE Gaussian: 100 gradient-ascent steps", lambda: gauss.step(100))
    mix = P_demos.MaximumLikelihood(model="mixture")
    timed("MLE mixture: 200 gradient-ascent steps", lambda: mix.step(200))
    kl = P_demos.KLFit()
    timed("KL fits (forward and reverse): 150 steps", lambda: kl.step(150))
    hist = P_demos.HistogramConvergence()
    timed("histogram convergence: 100 steps", lambda: hist.step(100))
    for name, demo, steps, frames in (("MaximumLikelihood(mixture)", P_demos.MaximumLikelihood(model="mixture"), 200, 40),
                                      ("KLFit", P_demos.KLFit(), 150, 30),
                                      ("HistogramConvergence", P_demos.HistogramConvergence(), 100, 40)):
        timed(f"record {name}: {steps} steps, {frames} frames", lambda: demo.record(steps, frames))
    ns = np.unique(np.geomspace(10, 30_000, 10).astype(int))
    errors = timed("Monte Carlo error of pi: 10 sizes x 200 seeds", lambda: P.monte_carlo_error(ns, 200, 0))
    timed("temperature figure (41 slider steps)", P_demos.temperature_figure)

    print("\n-- figures stated in the text")
    mu, sigma = P.gaussian_mle(gauss.x.numpy())
    fit = gauss.fitted()
    print(f"Gaussian: truth mu=1.5 sigma=0.7; closed form mu={mu:.4f} sigma={sigma:.4f}; "
          f"gradient ascent mu={fit.means[0]:.4f} sigma={fit.stds[0]:.4f}")
    m = mix.fitted()
    print(f"mixture: truth w=(0.3, 0.7) mu=(-2, 1.5) sigma=(0.5, 0.8); fitted "
          f"w=({m.weights[0]:.3f}, {m.weights[1]:.3f}) mu=({m.means[0]:.3f}, {m.means[1]:.3f}) "
          f"sigma=({m.stds[0]:.3f}, {m.stds[1]:.3f}); log-likelihood {mix.metrics.last['log-likelihood']:.4f} "
          f"(truth {P.average_log_likelihood(mix.x.numpy(), P.TWO_PEAKS):.4f})")
    print(f"Monte Carlo error slope on log-log axes: {P.loglog_slope(ns, errors):.3f} (theory -0.5)")
    print(f"histogram after {hist.n:,} samples: L1 error {hist.l1_error():.4f}")
    (mf, sf), (mr, sr) = kl.fits()
    print(f"forward KL fit mu={mf:.3f} sigma={sf:.3f} (target mean 0, std {P.TWIN_PEAKS.std:.3f}); "
          f"reverse KL fit mu={mr:.3f} sigma={sr:.3f}")
    rng = np.random.default_rng(0)
    cov_corr, cov_diag = np.array([[1.0, 0.8], [0.8, 1.0]]), np.diag([1.0, 0.25])
    x_corr = P.multivariate_gaussian_sample(np.zeros(2), cov_corr, 100_000, rng)
    x_diag = P.multivariate_gaussian_sample(np.zeros(2), cov_diag, 100_000, rng)
    print(f"multivariate Gaussian (100k): cov12 {np.cov(x_corr.T)[0, 1]:.3f} (0.8), Var[x1+x2] "
          f"{x_corr.sum(1).var():.2f} (3.6); diagonal cov12 {np.cov(x_diag.T)[0, 1]:.3f} (0), "
          f"Var[x2] {x_diag[:, 1].var():.3f} (0.25), Var[x1+x2] {x_diag.sum(1).var():.2f} (1.25)")
    from scipy.stats import norm
    p, q, exact = P.Mixture(), P.Mixture(means=(3.0,)), norm.sf(3.0)
    tail = lambda x: x > 3.0
    rng = np.random.default_rng(0)
    plain = np.array([P.importance_sampling(tail, p, p, 10_000, rng) for _ in range(200)])
    weighted = timed("importance sampling: 200 x 10,000 samples",
                     lambda: np.array([P.importance_sampling(tail, p, q, 10_000, rng) for _ in range(200)]))
    rel = lambda e: np.sqrt(np.mean((e - exact) ** 2)) / exact
    print(f"P(X > 3) = {exact:.5f}: relative RMS error plain {rel(plain):.3f} (theory 0.27), "
          f"importance sampling {rel(weighted):.4f} (theory 0.018), gain {rel(plain) / rel(weighted):.1f}x")
    print(f"Gaussian KL N(0,1)||N(1,4): closed form {P.gaussian_kl(0, 1, 1, 2):.4f}, "
          f"Monte Carlo (200k) {P.monte_carlo_kl(P.Mixture(), P.Mixture(means=(1.0,), stds=(2.0,)), 200_000, np.random.default_rng(0)):.4f}")


if __name__ == "__main__":
    main()
