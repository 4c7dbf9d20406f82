"""Probability and randomness: distributions, sampling, Monte Carlo, likelihood, KL, temperature."""
import asyncio
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from genmech import probability as P, probability_demos as P_demos
from genmech.live import LiveView
from waiting import until


# --------------------------------------------------------------------------- distributions
def test_mixture_density_integrates_to_one_and_matches_scipy():
    m = P.TWO_PEAKS
    area, _ = integrate.quad(lambda x: float(m.pdf(x)), -np.inf, np.inf)
    assert area == pytest.approx(1.0, abs=1e-8)
    xs = np.linspace(-4, 4, 9)
    expected = sum(w * stats.norm.pdf(xs, mu, s) for w, mu, s in zip(m.weights, m.means, m.stds))
    assert np.allclose(m.pdf(xs), expected)
    assert np.allclose(torch.exp(m.log_prob(torch.tensor(xs))).numpy(), expected)
    assert np.allclose(m.cdf(xs), [integrate.quad(lambda t: float(m.pdf(t)), -np.inf, x)[0] for x in xs],
                       atol=1e-7)


def test_density_can_exceed_one_but_probability_cannot():
    narrow = P.Mixture(means=(0.0,), stds=(0.1,))
    assert narrow.pdf(0.0) > 3.9           # 1 / (0.1 sqrt(2 pi)) = 3.99
    assert narrow.cdf(10.0) == pytest.approx(1.0)


def test_mixture_samples_have_the_stated_mean_and_std():
    x = P.TWO_PEAKS.sample(200_000, np.random.default_rng(1))
    assert x.mean() == pytest.approx(P.TWO_PEAKS.mean, abs=0.02)
    assert x.std() == pytest.approx(P.TWO_PEAKS.std, abs=0.02)
    assert np.mean(x < -0.5) == pytest.approx(P.TWO_PEAKS.cdf(-0.5), abs=0.005)


def test_mixture_rejects_bad_parameters():
    with pytest.raises(ValueError, match="sum to 1"):
        P.Mixture(weights=(0.5, 0.6), means=(0, 1), stds=(1, 1))
    with pytest.raises(ValueError, match="same, non-zero length"):
        P.Mixture(weights=(1.0,), means=(0, 1), stds=(1,))
    with pytest.raises(ValueError, match="positive"):
        P.Mixture(stds=(0.0,))
    with pytest.raises(TypeError, match="must be a number"):
        P.gaussian_pdf(0.0, std="wide")


def test_bayes_rule_worked_example():
    # disease with prevalence 1 %, test sensitivity 90 %, false-positive rate 5 %
    post = P.posterior([0.01, 0.99], [0.90, 0.05])
    assert post[0] == pytest.approx(0.009 / (0.009 + 0.0495))
    assert post.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one probability"):
        P.posterior([0.5, 0.5], [0.9])
    with pytest.raises(ValueError, match="evidence has probability zero"):
        P.posterior([1.0, 0.0], [0.0, 1.0])


# --------------------------------------------------------------------------- sampling
def test_same_seed_same_samples_different_seed_different_samples():
    a = np.random.default_rng(42).normal(size=5)
    b = np.random.default_rng(42).normal(size=5)
    c = np.random.default_rng(43).normal(size=5)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_exponential_inverse_cdf_gives_exponential_samples():
    u = np.random.default_rng(0).random(50_000)
    x = P.exponential_inverse_cdf(u, rate=2.0)
    assert stats.kstest(x, stats.expon(scale=0.5).cdf).pvalue > 0.01
    assert x.mean() == pytest.approx(0.5, rel=0.03)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        P.exponential_inverse_cdf([1.0])


def test_bisection_inverts_the_mixture_cdf():
    u = np.random.default_rng(0).random(20_000)
    x = P.inverse_cdf_sample(P.TWO_PEAKS.cdf, u)
    assert np.allclose(P.TWO_PEAKS.cdf(x), u, atol=1e-12)
    assert stats.kstest(x, P.TWO_PEAKS.cdf).pvalue > 0.01


def test_change_of_variables_density_of_exp_z():
    z = np.random.default_rng(0).normal(size=200_000)
    y = np.exp(z)
    counts, edges = np.histogram(y, bins=40, range=(0.05, 4.0))
    hist = counts / (len(y) * np.diff(edges))
    centers = 0.5 * (edges[1:] + edges[:-1])
    assert np.max(np.abs(hist - P.lognormal_pdf(centers))) < 0.03
    area, _ = integrate.quad(lambda t: float(P.lognormal_pdf(np.array([t]))[0]), 0, np.inf)
    assert area == pytest.approx(1.0, abs=1e-6)


# --------------------------------------------------------------------------- Monte Carlo
def test_monte_carlo_error_shrinks_like_one_over_sqrt_n():
    ns = np.array([10, 100, 1000, 10000])
    err = P.monte_carlo_error(ns, seeds=200, seed=0)
    slope = P.loglog_slope(ns, err)
    assert -0.6 < slope < -0.4
    # the error of a mean of n Bernoulli(pi/4) times 4: 4 sqrt(p(1-p)/n)
    theory = 4 * np.sqrt(math.pi / 4 * (1 - math.pi / 4) / ns)
    assert np.all(np.abs(err / theory - 1) < 0.25)


def test_estimate_pi_in_chunks_is_unbiased():
    est = P.estimate_pi(3_000_000, np.random.default_rng(0), repeats=1)
    assert est[0] == pytest.approx(math.pi, abs=0.005)
    with pytest.raises(ValueError, match="n must be an int"):
        P.estimate_pi(0, np.random.default_rng(0))


def test_histogram_converges_and_the_figure_changes():
    demo = P_demos.HistogramConvergence()
    start = demo.l1_error()
    before = np.array(demo.figure().data[0].y)
    demo.step(100)
    assert demo.metrics.last["samples"] > 50_000
    assert start > 0.5 and demo.metrics.last["L1 error"] < 0.05
    assert not np.allclose(before, demo.figure().data[0].y)
    assert np.isclose((demo.counts / demo.n).sum(), P.TWO_PEAKS.cdf(4.5) - P.TWO_PEAKS.cdf(-4.5),
                      atol=1e-3)


def test_histogram_recording_is_playable():
    rec = P_demos.HistogramConvergence().record(steps=40, frames=10)
    assert len(rec.figure.frames) == 11
    assert rec.figure.layout.updatemenus[0].buttons[0].label.endswith("Play")
    assert not np.allclose(rec.figure.frames[0].data[0].y, rec.figure.frames[-1].data[0].y)


# --------------------------------------------------------------------------- maximum likelihood
def test_closed_form_gaussian_mle():
    x = np.random.default_rng(0).normal(3.0, 2.0, 100_000)
    mu, sigma = P.gaussian_mle(x)
    assert mu == pytest.approx(x.mean()) and sigma == pytest.approx(x.std(ddof=0))
    assert mu == pytest.approx(3.0, abs=0.03) and sigma == pytest.approx(2.0, abs=0.03)
    with pytest.raises(ValueError, match="at least 2"):
        P.gaussian_mle([1.0])


def test_gradient_ascent_reaches_the_closed_form_gaussian():
    demo = P_demos.MaximumLikelihood(model="gaussian")
    first = demo.step(1)["log-likelihood"]
    demo.step(199)
    fit = demo.fitted()
    mu, sigma = P.gaussian_mle(demo.x.numpy())
    assert fit.means[0] == pytest.approx(mu, abs=1e-4)
    assert fit.stds[0] == pytest.approx(sigma, abs=1e-4)
    assert demo.metrics.last["log-likelihood"] > first + 0.5
    # and the closed form is close to the truth that made the data (1000 points)
    assert mu == pytest.approx(P.ONE_PEAK.means[0], abs=0.1)
    assert sigma == pytest.approx(P.ONE_PEAK.stds[0], abs=0.1)


def test_mixture_fit_recovers_the_known_parameters():
    demo = P_demos.MaximumLikelihood(model="mixture", n=5000)
    before = np.array(demo.figure().data[2].y)
    demo.step(300)
    fit, truth = demo.fitted(), P.TWO_PEAKS
    assert np.allclose(fit.weights, truth.weights, atol=0.03)
    assert np.allclose(fit.means, truth.means, atol=0.1)
    assert np.allclose(fit.stds, truth.stds, atol=0.1)
    # the fitted model explains its data at least as well as the truth does
    assert demo.metrics.last["log-likelihood"] >= P.average_log_likelihood(demo.x.numpy(), truth) - 1e-9
    assert not np.allclose(before, demo.figure().data[2].y)


def test_mle_demo_reports_divergence_without_raising():
    demo = P_demos.MaximumLikelihood(model="mixture", lr=20.0)
    demo.step(300)
    assert demo.diverged and demo.steps < 300
    assert "Diverged" in demo.status and "smaller learning rate" in demo.status
    demo.figure()                                # still drawable
    demo.set(lr=0.3)                             # a change after divergence restarts cleanly
    assert not demo.diverged and demo.steps == 0
    with pytest.raises(ValueError, match="model must be one of"):
        P_demos.MaximumLikelihood(model="cauchy")


def test_live_view_of_the_mle_demo_trains_and_pauses():
    async def scenario():
        view = LiveView(P_demos.MaximumLikelihood(model="mixture"), key="prob-mle")
        y0 = np.array(view.fig.data[2].y)
        view.buttons["Play"].click()
        assert await until(lambda: view.demo.steps > 10)
        assert view.playing
        view.buttons["Pause"].click()
        await asyncio.sleep(0.01)
        steps = view.demo.steps
        await asyncio.sleep(0.1)
        assert view.demo.steps == steps and "paused" in view.status.value
        assert not np.allclose(y0, view.fig.data[2].y)
        view.controls["lr"].value = 20.0
        view.speed.value = 50
        view.buttons["Step"].click()
        assert view.demo.diverged and "Diverged" in view.status.value
        view.buttons["Reset"].click()
        assert view.demo.steps == 0 and not view.demo.diverged
    asyncio.run(scenario())


# --------------------------------------------------------------------------- information
def test_entropy_cross_entropy_and_kl_of_categoricals():
    p, q = [0.5, 0.25, 0.25], [1 / 3] * 3
    assert P.entropy(p) == pytest.approx(1.5 * math.log(2))
    assert P.entropy([1.0, 0.0]) == 0.0
    assert P.entropy(q) == pytest.approx(math.log(3))
    assert P.cross_entropy(p, q) == pytest.approx(math.log(3))
    assert P.kl_divergence(p, q) == pytest.approx(math.log(3) - 1.5 * math.log(2))
    assert P.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert P.kl_divergence([0.9, 0.1], [0.5, 0.5]) != pytest.approx(P.kl_divergence([0.5, 0.5], [0.9, 0.1]))
    assert P.cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    with pytest.raises(ValueError, match="same length"):
        P.cross_entropy([1.0], [0.5, 0.5])


def test_cross_entropy_is_torch_negative_log_likelihood():
    logits = torch.tensor([[2.0, 0.5, -1.0]])
    target = torch.tensor([0])
    q = torch.softmax(logits, 1)[0].numpy()
    nll = torch.nn.functional.cross_entropy(logits, target).item()
    assert P.cross_entropy([1.0, 0.0, 0.0], q) == pytest.approx(nll, rel=1e-6)


@pytest.mark.parametrize("mu1, s1, mu2, s2", [(0, 1, 0, 1), (0, 1, 1, 2), (1.5, 0.3, -1, 1.2), (0, 2, 0, 0.5)])
def test_gaussian_kl_closed_form_matches_monte_carlo(mu1, s1, mu2, s2):
    p, q = P.Mixture(means=(mu1,), stds=(s1,)), P.Mixture(means=(mu2,), stds=(s2,))
    exact = P.gaussian_kl(mu1, s1, mu2, s2)
    estimate = P.monte_carlo_kl(p, q, 400_000, np.random.default_rng(0))
    assert exact >= 0
    assert estimate == pytest.approx(exact, abs=0.01 + 0.01 * exact)


def test_kl_fit_forward_covers_reverse_locks_onto_one_peak():
    demo = P_demos.KLFit()
    before = [np.array(t.y) for t in demo.figure().data]
    demo.step(300)
    (m_fwd, s_fwd), (m_rev, s_rev) = demo.fits()
    target = P.TWIN_PEAKS
    # forward KL to a Gaussian matches moments: the mean and the std of the mixture
    assert m_fwd == pytest.approx(target.mean, abs=0.01) and s_fwd == pytest.approx(target.std, abs=0.01)
    # reverse KL picks one peak (the right one, from a start right of the middle)
    assert m_rev == pytest.approx(2.0, abs=0.05) and s_rev == pytest.approx(0.5, abs=0.05)
    # each fit is best under its own divergence: the other fit scores worse
    theta_f, theta_r = demo.params_
    assert demo.forward_kl(theta_f).item() < demo.forward_kl(theta_r).item()
    assert demo.reverse_kl(theta_r).item() < demo.reverse_kl(theta_f).item()
    # the reverse fit's KL is about log 2: q matches one half of p exactly
    assert demo.metrics.last["reverse KL(q‖p)"] == pytest.approx(math.log(2), abs=0.01)
    after = [np.array(t.y) for t in demo.figure().data]
    assert not np.allclose(before[1], after[1]) and not np.allclose(before[3], after[3])


def test_kl_quadratures_agree_with_the_gaussian_closed_form():
    demo = P_demos.KLFit()
    # a single-Gaussian target, where both divergences have the closed form
    demo.target = P.Mixture(means=(0.5,), stds=(0.8,))
    demo.log_p = demo.target.log_prob(demo.GRID)
    demo.p = torch.exp(demo.log_p)
    demo.neg_entropy_p = float((demo.p * demo.log_p).sum() * demo.dx)
    theta = torch.tensor([-0.3, math.log(1.3)], dtype=torch.float64)
    assert demo.forward_kl(theta).item() == pytest.approx(P.gaussian_kl(0.5, 0.8, -0.3, 1.3), abs=1e-6)
    assert demo.reverse_kl(theta).item() == pytest.approx(P.gaussian_kl(-0.3, 1.3, 0.5, 0.8), abs=1e-6)


def test_kl_fit_reports_divergence_without_raising():
    demo = P_demos.KLFit(lr=20.0)
    demo.step(500)
    assert demo.diverged and "Diverged" in demo.status
    demo.figure()


# --------------------------------------------------------------------------- temperature
def test_temperature_limits_and_entropy_grows_with_t():
    p = np.array(P.NEXT_WORD_P)
    assert np.allclose(P.with_temperature(p, 1.0), p)
    assert P.with_temperature(p, 0.01)[0] == pytest.approx(1.0)
    assert np.allclose(P.with_temperature(p, 1e4), 1 / len(p), atol=1e-3)
    temps = np.geomspace(0.1, 10, 20)
    h = [P.entropy(P.with_temperature(p, t)) for t in temps]
    assert np.all(np.diff(h) > 0) and h[-1] < math.log(len(p))
    # an impossible outcome stays impossible at any temperature
    assert P.with_temperature([0.5, 0.5, 0.0], 5.0)[2] == 0.0
    with pytest.raises(ValueError, match="temperature must be a positive"):
        P.with_temperature(p, 0.0)


def test_temperature_figure_has_a_working_slider():
    fig = P_demos.temperature_figure()
    slider = fig.layout.sliders[0]
    assert len(slider.steps) == 41 and slider.steps[slider.active].label == "1"
    first, last = slider.steps[0], slider.steps[-1]
    assert first.method == "update" and max(first.args[0]["y"][0]) > 0.9     # conservative end
    assert max(last.args[0]["y"][0]) < 0.2                                  # random end
    assert "entropy" in first.args[1]["title.text"]
    texts = [a.text for a in fig.layout.annotations]
    assert any("conservative" in t for t in texts) and any("random" in t for t in texts)
    with pytest.raises(ValueError, match="one label per probability"):
        P_demos.temperature_figure([0.5, 0.5], ["a"])


def test_temperature_widget_redraws():
    box = P_demos.temperature_widget()
    slider = box.children[0].children[1]
    fig = box.children[1]
    slider.value = 0.1
    assert max(fig.data[0].y) > 0.9 and "entropy" in fig.layout.title.text
    slider.value = 10.0
    assert max(fig.data[0].y) < 0.2


def test_recorded_controls_leave_room_for_the_buttons():
    """The Play/Pause row sits above a full-width slider, so neither covers the other on a
    phone (the browser tests measure it at 390 px)."""
    rec = P_demos.KLFit().record(steps=20, frames=5)
    slider, buttons = rec.figure.layout.sliders[0], rec.figure.layout.updatemenus[0]
    assert slider.x == 0 and slider.len == 1
    assert slider.y < buttons.y                          # the slider is below the buttons
    assert len(rec.figure.frames) == 6


def test_importance_sampling_is_unbiased_and_beats_plain_monte_carlo_in_the_tail():
    p, q = P.Mixture(), P.Mixture(means=(3.0,))
    exact = stats.norm.sf(3.0)

    def tail(x):
        return x > 3.0

    rng = np.random.default_rng(0)
    weighted = np.array([P.importance_sampling(tail, p, q, 2_000, rng) for _ in range(200)])
    plain = np.array([P.importance_sampling(tail, p, p, 2_000, rng) for _ in range(200)])
    # unbiased: the average of 200 estimates is within 3 standard errors of the truth
    assert abs(weighted.mean() - exact) < 3 * weighted.std() / math.sqrt(200)
    # q = p gives plain Monte Carlo: weights are 1, the estimate is a fraction of hits
    assert np.allclose(plain * 2_000, np.round(plain * 2_000))
    # the shifted proposal is far more accurate (theory: about 15 times in RMS error)
    rms = lambda e: np.sqrt(np.mean((e - exact) ** 2))
    assert rms(weighted) * 5 < rms(plain)


def test_multivariate_gaussian_density_matches_scipy_and_diagonal_factorises():
    mean, cov = np.array([0.5, -1.0]), np.array([[1.0, 0.8], [0.8, 1.0]])
    x = np.random.default_rng(1).normal(size=(50, 2))
    assert np.allclose(P.multivariate_gaussian_log_pdf(x, mean, cov),
                       stats.multivariate_normal(mean, cov).logpdf(x))
    stds = np.array([1.0, 0.5])
    product = np.log(P.gaussian_pdf(x[:, 0], mean[0], stds[0]) * P.gaussian_pdf(x[:, 1], mean[1], stds[1]))
    assert np.allclose(P.multivariate_gaussian_log_pdf(x, mean, np.diag(stds**2)), product)


def test_multivariate_gaussian_samples_have_the_stated_covariance():
    mean, cov = np.array([1.0, 2.0]), np.array([[1.0, 0.8], [0.8, 1.0]])
    x = P.multivariate_gaussian_sample(mean, cov, 100_000, np.random.default_rng(0))
    assert x.shape == (100_000, 2)
    assert np.abs(x.mean(0) - mean).max() < 0.02
    assert np.abs(np.cov(x.T) - cov).max() < 0.03


@pytest.mark.parametrize("cov", [[[1.0, 2.0], [0.0, 1.0]],      # not symmetric
                                 [[1.0, 2.0], [2.0, 1.0]],      # an eigenvalue below 0
                                 [1.0, 2.0]])                   # not a matrix
def test_multivariate_gaussian_rejects_a_bad_covariance(cov):
    with pytest.raises(ValueError, match="covariance"):
        P.multivariate_gaussian_sample([0.0, 0.0], cov, 10, np.random.default_rng(0))
