"""The VAE chapter's code: the ELBO pieces against independent computations, and the demos driven headlessly."""
import asyncio
import math

import numpy as np
import pytest
import torch

from genmech import digits, vae, vae_demos
from genmech.live import LiveView
from waiting import until


# --------------------------------------------------------------------------- KL and ELBO pieces
def test_gaussian_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu_q, logvar_q = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([-0.5, 0.3, 1.0])
    mu_p, logvar_p = torch.tensor([0.0, 0.4, 1.0]), torch.tensor([0.2, -0.3, 0.5])
    closed = vae.diagonal_gaussian_kl(mu_q, logvar_q, mu_p, logvar_p)
    q = torch.distributions.Normal(mu_q, (0.5 * logvar_q).exp())
    p = torch.distributions.Normal(mu_p, (0.5 * logvar_p).exp())
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean()
    assert closed.item() == pytest.approx(mc.item(), abs=0.02)
    # and against torch.distributions' own closed form
    exact = torch.distributions.kl_divergence(q, p).sum()
    assert closed.item() == pytest.approx(exact.item(), rel=1e-5)


def test_gaussian_kl_standard_prior_properties():
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    assert torch.allclose(vae.diagonal_gaussian_kl(mu, logvar), torch.zeros(4))   # q = p: KL = 0
    kl = vae.diagonal_gaussian_kl(torch.randn(50, 2), torch.randn(50, 2))
    assert kl.shape == (50,) and (kl >= 0).all()
    # ½ (σ² + μ² − 1 − log σ²) for μ = 1, σ² = e
    one = vae.diagonal_gaussian_kl(torch.tensor([1.0]), torch.tensor([1.0]))
    assert one.item() == pytest.approx(0.5 * (math.e + 1 - 1 - 1))
    with pytest.raises(ValueError, match="same shape"):
        vae.diagonal_gaussian_kl(torch.zeros(3), torch.zeros(2))


def test_reparameterized_sampler_has_right_moments_and_gradients():
    torch.manual_seed(0)
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(4.0)], requires_grad=True)
    z = vae.reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2))
    assert z.mean(0).detach().numpy() == pytest.approx([1.0, -2.0], abs=0.03)
    assert z.std(0).detach().numpy() == pytest.approx([1.0, 2.0], abs=0.03)
    z.mean().backward()                       # gradients reach μ and log σ²
    assert mu.grad is not None and torch.allclose(mu.grad, torch.full((2,), 0.5))
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0
    fixed = vae.reparameterize(torch.zeros(3), torch.zeros(3), eps=torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(fixed, torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="same shape"):
        vae.reparameterize(torch.zeros(2), torch.zeros(3))


def test_bernoulli_nll_and_its_entropy_floor():
    x = torch.tensor([[0.0, 1.0, 0.25] + [0.0] * 61])
    # −log p(x) = −Σ [x log p + (1−x) log(1−p)], p = sigmoid(logit)
    logits = torch.randn(1, 64)
    p = torch.sigmoid(logits)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).sum()
    assert vae.bernoulli_nll(logits, x).item() == pytest.approx(manual.item(), rel=1e-5)
    # the floor is reached with p = x, and is the entropy of the single grey pixel
    floor = vae.entropy_floor(x)
    assert floor == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rel=1e-6)
    best = torch.logit(x.clamp(1e-6, 1 - 1e-6))
    assert vae.bernoulli_nll(best, x).item() == pytest.approx(floor, abs=1e-3)
    with pytest.raises(ValueError, match="shape"):
        vae.entropy_floor(torch.zeros(3, 10))


def test_elbo_terms_shapes_and_bound():
    torch.manual_seed(0)
    model = vae.VAE(vae.Config(latent=2, hidden=16))
    x = digits.load()[2][:20]
    recon, kl = vae.elbo_terms(model, x, samples=4)
    assert recon.shape == (20,) and kl.shape == (20,)
    assert (recon > 0).all() and (kl >= 0).all()
    # the importance-weighted bound is tighter (smaller) than −ELBO, up to Monte Carlo noise
    elbo = vae.evaluate_vae(model, x, samples=64)["neg_elbo"]
    assert vae.importance_weighted_nll(model, x, samples=256) <= elbo + 0.05
    with pytest.raises(ValueError, match="shape"):
        vae.elbo_terms(model, torch.zeros(5, 10))


def test_toy_elbo_gap_is_kl_to_the_posterior():
    x, s = 1.3, 0.5
    pm, pv = vae.toy_posterior(x, s)
    logp = vae.toy_log_evidence(x, s)
    assert vae.toy_elbo(x, s, pm, pv) == pytest.approx(logp, abs=1e-12)   # q = posterior: no gap
    for m, v in ((0.0, 1.0), (1.5, 0.1), (-0.3, 2.0)):
        gap = logp - vae.toy_elbo(x, s, m, v)
        kl = vae.diagonal_gaussian_kl(torch.tensor([m]), torch.tensor([math.log(v)]),
                                      torch.tensor([pm]), torch.tensor([math.log(pv)])).item()
        assert gap == pytest.approx(kl, rel=1e-5) and gap > 0
    # the evidence itself, by numerical integration of p(x|z) p(z)
    z = np.linspace(-10, 10, 200_001)
    joint = np.exp(-0.5 * z**2 - 0.5 * (x - z) ** 2 / s**2) / (2 * math.pi * s)
    assert math.log(np.trapezoid(joint, z)) == pytest.approx(logp, abs=1e-6)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="latent"):
        vae.Config(latent=0)
    with pytest.raises(ValueError, match="beta"):
        vae.Config(beta=-1.0)
    with pytest.raises(ValueError, match="lr"):
        vae.Config(lr=0)


# --------------------------------------------------------------------------- gradient estimators
def test_both_estimators_are_unbiased_and_reparam_has_lower_variance():
    rows = vae.gradient_variance(mu=0.0, sigma=1.0, sample_sizes=(1, 10), repeats=400)
    for r in rows:
        se_rep = math.sqrt(r["reparam_var"] / 400)
        se_sf = math.sqrt(r["score_var"] / 400)
        assert abs(r["reparam_mean"] - r["exact"]) < 4 * se_rep + 1e-9
        assert abs(r["score_mean"] - r["exact"]) < 4 * se_sf
        assert r["score_var"] > 3 * r["reparam_var"]
    # variance falls like 1/K
    assert rows[1]["reparam_var"] < rows[0]["reparam_var"] / 4
    with pytest.raises(ValueError, match="repeats"):
        vae.gradient_variance(repeats=1)


def test_score_function_sample_blocks_gradient_without_log_prob():
    mu = torch.tensor(0.0, requires_grad=True)
    z = torch.distributions.Normal(mu, 1.0).sample()
    assert z.grad_fn is None                       # sample() cuts the graph
    z = torch.distributions.Normal(mu, 1.0).rsample()
    assert z.grad_fn is not None                   # rsample() is the reparameterization trick


# --------------------------------------------------------------------------- training
def test_autoencoder_and_vae_learn():
    X, _, Xt, _ = digits.load()
    ae, hist = vae.train_autoencoder(vae.Config(latent=2, hidden=64), steps=400)
    assert hist.reconstruction[-1] < 0.8 * hist.reconstruction[0]
    err = vae.reconstruction_error(ae, Xt)
    assert err["mse"] < 0.06                        # predicting the mean image scores ~0.1
    model, hist = vae.train_vae(vae.Config(latent=2, hidden=64), steps=400)
    result = vae.evaluate_vae(model, Xt)
    assert result["neg_elbo"] < 30.0               # an untrained model scores ~45
    assert result["neg_elbo"] > vae.entropy_floor(Xt)
    assert result["kl"] > 0.5                       # the code carries information


def test_large_beta_collapses_the_posterior():
    _, _, Xt, _ = digits.load()
    model, _ = vae.train_vae(vae.Config(latent=2, hidden=64, beta=20.0), steps=300)
    assert vae.evaluate_vae(model, Xt)["kl"] < 0.1


def test_latent_walk_helpers():
    torch.manual_seed(0)
    model = vae.VAE(vae.Config(latent=2, hidden=16))
    _, _, Xt, _ = digits.load()
    fig = vae_demos.latent_map(model, n=5)
    assert fig.data[0].z.shape == (5 * 8, 5 * 8)
    line = vae.interpolate(model, Xt[0], Xt[1], steps=7)
    assert line.shape == (7, 64) and ((line >= 0) & (line <= 1)).all()
    s = vae.prior_samples(model, 30, seed=1)
    assert s.shape == (30, 64) and torch.equal(s, vae.prior_samples(model, 30, seed=1))
    q = vae.normal_quantiles(5)
    assert q[2] == pytest.approx(0.0, abs=1e-6) and np.all(np.diff(q) > 0)
    with pytest.raises(ValueError, match="2D"):
        vae_demos.latent_map(vae.VAE(vae.Config(latent=3, hidden=8)))
    with pytest.raises(ValueError, match="steps"):
        vae.interpolate(model, Xt[0], Xt[1], steps=1)


def test_autoencoder_sampling_helpers():
    torch.manual_seed(0)
    ae = vae.Autoencoder(vae.Config(latent=3, hidden=16))
    X = digits.load()[0][:100]
    fake = vae.codes_gaussian_samples(ae, X, n=40, seed=2)
    assert fake.shape == (40, 64) and torch.equal(fake, vae.codes_gaussian_samples(ae, X, n=40, seed=2))
    assert vae.nearest_distance(X[:10], X) == pytest.approx(0.0, abs=1e-3)   # each is its own neighbour
    far = vae.nearest_distance(torch.ones(5, 64), torch.zeros(3, 64))
    assert far == pytest.approx(8.0)                                        # sqrt(64)
    with pytest.raises(ValueError, match="shape"):
        vae.nearest_distance(torch.zeros(2, 3), X)


# --------------------------------------------------------------------------- the demos
def test_demo_learns_and_figure_moves():
    demo = vae_demos.VAEDemo()
    first = demo.step(1)
    before = demo.frame()
    last = demo.step(400)
    assert last["neg_elbo"] < 30.0 < first["neg_elbo"]
    after = demo.frame()
    assert not np.allclose(before[0]["x"], after[0]["x"])      # the codes moved
    assert not np.allclose(before[10]["z"], after[10]["z"], equal_nan=True)   # reconstructions changed
    assert len(after[11]["x"]) == 401                          # the reconstruction curve grew
    fig = demo.figure()
    assert len(fig.data) == 13


def test_demo_beta_applies_live_and_large_beta_collapses():
    demo = vae_demos.VAEDemo(seed=1)
    demo.step(400)
    assert demo.metrics.last["kl"] > 1.0
    demo.set(beta=20.0)               # applied in place: training continues
    assert demo.steps == 400
    demo.step(300)
    assert demo.metrics.last["kl"] < 0.2


def test_demo_record_makes_an_animation():
    rec = vae_demos.VAEDemo().record(steps=60, frames=6)
    assert len(rec.figure.frames) == 7
    assert rec.figure.layout.updatemenus[0].buttons[0].label.endswith("Play")
    assert "neg_elbo" in rec.final


def test_demo_divergence_is_reported_not_raised():
    demo = vae_demos.VAEDemo(lr=10.0)
    demo.step(500)
    assert demo.diverged and demo.steps < 500
    assert "Diverged" in demo.status
    demo.set(lr=3e-3)
    assert not demo.diverged and demo.steps == 0


def test_demo_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="beta must be between"):
        vae_demos.VAEDemo(beta=100.0)
    with pytest.raises(TypeError, match="lr must be a number"):
        vae_demos.VAEDemo(lr="fast")


def test_live_view_buttons_drive_the_demo():
    async def scenario():
        view = LiveView(vae_demos.VAEDemo(), key="vae-buttons")
        view.buttons["Play"].click()
        assert await until(lambda: view.demo.steps > 5)
        assert view.playing
        view.buttons["Pause"].click()
        await asyncio.sleep(0.01)
        steps = view.demo.steps
        await asyncio.sleep(0.2)
        assert view.demo.steps == steps and "paused" in view.status.value
        view.controls["beta"].value = 4.0
        assert view.demo.hp["beta"] == pytest.approx(4.0) and view.demo.steps == steps
        view.buttons["Step"].click()
        assert view.demo.steps == steps + 1
        view.buttons["Reset"].click()
        assert view.demo.steps == 0
    asyncio.run(scenario())


def test_live_view_reports_divergence():
    async def scenario():
        view = LiveView(vae_demos.VAEDemo(lr=10.0), key="vae-diverge")
        view.speed.value = 50
        view.play()
        assert await until(lambda: not view.playing)
        assert view.demo.diverged and "Diverged" in view.status.value
    asyncio.run(scenario())


def test_explorer_live_and_recorded(monkeypatch):
    torch.manual_seed(0)
    model = vae.VAE(vae.Config(latent=2, hidden=16))
    _, _, Xt, yt = digits.load()
    monkeypatch.setenv("GENMECH_MODE", "live")
    widget = vae_demos.explorer(model, Xt[:50], yt[:50])
    ex = widget._explorer
    before = np.array(ex.fig.data[11].z)
    ex.sliders[0].value = 2.5
    ex.sliders[1].value = -2.0
    assert tuple(ex.fig.data[10].x) == (2.5,) and tuple(ex.fig.data[10].y) == (-2.0,)
    assert not np.allclose(before, np.array(ex.fig.data[11].z))
    monkeypatch.setenv("GENMECH_MODE", "record")
    fig = vae_demos.explorer(model, Xt[:50], yt[:50], path=vae.circle_path(12))
    assert len(fig.frames) == 12 and fig.layout.sliders[0].active == 0
    with pytest.raises(ValueError, match="2D"):
        vae_demos.explorer(vae.VAE(vae.Config(latent=4, hidden=8)), Xt[:5], yt[:5])
