"""The diffusion chapter's code: schedules, the forward process, the samplers, the trained model."""
import math

import pytest
import torch

from genmech import data, diffusion as D, gan


@pytest.fixture(params=D.SCHEDULES)
def schedule(request):
    return D.make_schedule(request.param, T=100)


# --------------------------------------------------------------------------- schedules
def test_schedules_start_clean_and_end_in_noise(schedule):
    ab = schedule.alpha_bars
    assert len(ab) == 101 and ab[0] == 1.0
    assert (ab[1:] < ab[:-1]).all()                     # each step removes signal
    assert ab[-1] < 1e-3                                # x_T is almost pure noise
    assert ((schedule.betas[1:] > 0) & (schedule.betas[1:] < 1)).all()


def test_cosine_schedule_follows_its_formula():
    s, T = 0.008, 50
    sch = D.make_schedule("cosine", T)
    f = [math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    expected = torch.tensor([fi / f[0] for fi in f])
    # clipping the last beta at 0.999 changes only the last entry
    torch.testing.assert_close(sch.alpha_bars[:-1], expected[:-1].float(), rtol=1e-4, atol=1e-6)


def test_linear_schedule_keeps_the_total_noise_when_T_changes():
    a, b = D.make_schedule("linear", 1000), D.make_schedule("linear", 100)
    assert a.betas[1:].sum().item() == pytest.approx(b.betas[1:].sum().item(), rel=0.02)


def test_bad_arguments_raise_readable_errors(schedule):
    with pytest.raises(ValueError, match="unknown schedule"):
        D.make_schedule("quadratic")
    with pytest.raises(ValueError, match="T must be an int"):
        D.make_schedule("linear", 1)
    with pytest.raises(ValueError, match="t must be an int between 1 and T"):
        D.ddpm_step(schedule, torch.zeros(3, 2), 0, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="sampling steps"):
        D.timesteps(100, 0)
    with pytest.raises(ValueError, match="DDPM takes all"):
        D.sample(lambda x, t: x, schedule, (4, 2), "DDPM", steps=10)
    with pytest.raises(ValueError, match="unknown sampler"):
        D.sample(lambda x, t: x, schedule, (4, 2), "Euler")
    with pytest.raises(ValueError, match="t_prev"):
        D.ddim_step(schedule, torch.zeros(3, 2), 5, 5, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="shape"):
        D.Diffusion(torch.zeros(10, 3), D.DiffusionConfig(dim=2))


# --------------------------------------------------------------------------- the forward process
@pytest.mark.parametrize("t", [1, 10, 50, 100])
def test_q_sample_mean_and_variance_match_the_closed_form(schedule, t):
    torch.manual_seed(0)
    n, x0 = 200_000, torch.tensor([1.5, -2.0])
    x_t = D.q_sample(schedule, x0.expand(n, 2), t)
    ab = schedule.alpha_bars[t]
    se = (1 / n) ** 0.5                                  # standard error of a mean of unit variance
    torch.testing.assert_close(x_t.mean(0), ab.sqrt() * x0, atol=5 * se, rtol=0)
    torch.testing.assert_close(x_t.var(0), (1 - ab).expand(2), atol=0.02, rtol=0)


def test_many_small_steps_give_the_closed_form(schedule):
    """Adding noise t times one step at a time gives the same distribution as one jump."""
    torch.manual_seed(1)
    n, t, x0 = 100_000, 30, torch.tensor([2.0])
    x = x0.expand(n, 1)
    for s in range(1, t + 1):
        x = D.forward_step(schedule, x, s)
    ab = schedule.alpha_bars[t]
    assert x.mean().item() == pytest.approx((ab.sqrt() * x0).item(), abs=0.02)
    assert x.var().item() == pytest.approx((1 - ab).item(), abs=0.02)


def test_q_sample_takes_one_t_per_row(schedule):
    x0, eps = torch.ones(3, 2), torch.zeros(3, 2)
    out = D.q_sample(schedule, x0, torch.tensor([0, 1, 100]), eps)
    torch.testing.assert_close(out[:, 0], schedule.alpha_bars[[0, 1, 100]].sqrt())


# --------------------------------------------------------------------------- the reverse step
def point_mass_eps(x0: float, schedule):
    """The perfect noise predictor when all data is the single point x0 (1D)."""
    def eps(x, t):
        ab = schedule.alpha_bars[t]
        return (x - ab.sqrt() * x0) / (1 - ab).sqrt()
    return eps


@pytest.mark.parametrize("t", [2, 20, 99])
def test_a_perfect_eps_predictor_makes_one_reverse_step_exact_in_1d(schedule, t):
    """With the true noise, a DDPM step draws x_{t-1} from q(x_{t-1} | x_t, x_0) exactly: its mean
    is the posterior mean, its variance the posterior variance, and, averaged over x_t, x_{t-1}
    has the forward marginal q(x_{t-1} | x_0)."""
    torch.manual_seed(2)
    n, x0 = 200_000, 1.5
    x_t = D.q_sample(schedule, torch.full((n, 1), x0), t)
    eps = point_mass_eps(x0, schedule)(x_t, t)
    zero = torch.zeros_like(x_t)
    mean, var = D.posterior(schedule, torch.full_like(x_t, x0), x_t, t)
    torch.testing.assert_close(D.ddpm_step(schedule, x_t, t, eps, zero), mean, atol=1e-4, rtol=1e-4)
    x_prev = D.ddpm_step(schedule, x_t, t, eps)
    assert ((x_prev - mean) ** 2).mean().item() == pytest.approx(var.item(), rel=0.02, abs=1e-6)
    ab_prev = schedule.alpha_bars[t - 1]
    assert x_prev.mean().item() == pytest.approx(ab_prev.sqrt().item() * x0, abs=0.01)
    assert x_prev.var().item() == pytest.approx((1 - ab_prev).item(), rel=0.02, abs=1e-4)


def test_the_last_step_lands_on_the_data(schedule):
    x_1 = D.q_sample(schedule, torch.full((5, 1), -0.7), 1)
    eps = point_mass_eps(-0.7, schedule)(x_1, 1)
    torch.testing.assert_close(D.ddpm_step(schedule, x_1, 1, eps), torch.full((5, 1), -0.7))
    # and DDIM with the perfect predictor jumps from any t straight to the point
    x_T = torch.randn(5, 1)
    out = D.sample(point_mass_eps(-0.7, schedule), schedule, (5, 1), "DDIM", steps=1, x_T=x_T)
    torch.testing.assert_close(out, torch.full((5, 1), -0.7), atol=1e-3, rtol=0)


def test_ddim_with_eta_0_is_deterministic_and_eta_1_is_not(schedule):
    eps_fn = D.mixture_eps(data.mode_centers("ring"), 0.05, schedule)
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)              # the global random state must not matter
        runs.append(D.sample(eps_fn, schedule, (64, 2), "DDIM", steps=20, x_T=x_T, eta=0.0))
    assert torch.equal(runs[0], runs[1])
    noisy = [D.sample(eps_fn, schedule, (64, 2), "DDIM", steps=20, x_T=x_T, eta=1.0,
                      generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    assert not torch.allclose(noisy[0], noisy[1])


def test_ddim_with_eta_1_one_step_at_a_time_is_ddpm(schedule):
    x, eps, z = torch.randn(8, 2), torch.randn(8, 2), torch.randn(8, 2)
    for t in (2, 50, 100):
        torch.testing.assert_close(D.ddim_step(schedule, x, t, t - 1, eps, eta=1.0, z=z),
                                   D.ddpm_step(schedule, x, t, eps, z), atol=1e-5, rtol=1e-4)


def test_mixture_eps_is_the_score_of_the_noised_mixture(schedule):
    centers, std, t = data.mode_centers("ring"), 0.05, 40
    ab = schedule.alpha_bars[t].double()
    c = torch.as_tensor(centers) * ab.sqrt()
    comps = torch.distributions.Independent(torch.distributions.Normal(c, (ab * std ** 2 + 1 - ab).sqrt()), 1)
    mix = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(torch.ones(8)), comps)
    x = torch.randn(20, 2, dtype=torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(mix.log_prob(x).sum(), x)
    eps = D.mixture_eps(centers, std, schedule)(x.detach().float(), t)
    torch.testing.assert_close(D.score(eps, schedule, t), grad.float(), atol=1e-4, rtol=1e-3)


def test_guidance_interpolates_and_extrapolates():
    cond, uncond = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])
    assert torch.equal(D.guided_eps(cond, uncond, 0.0), uncond)
    assert torch.equal(D.guided_eps(cond, uncond, 1.0), cond)
    assert torch.equal(D.guided_eps(cond, uncond, 3.0), torch.tensor([3.0, 4.0]))


def test_elbo_weights_are_positive_and_largest_at_small_t():
    w = D.elbo_weight(D.make_schedule("linear", 100))
    assert (w > 0).all() and w[0] > w[-1]


def test_time_embedding_tells_steps_apart():
    e = D.time_embedding(torch.arange(101), 100, 16)
    assert e.shape == (101, 16)
    dist = torch.cdist(e, e) + torch.eye(101) * 10
    assert dist.min() > 0.05


# --------------------------------------------------------------------------- training
def test_the_2d_model_covers_at_least_7_of_the_8_ring_modes():
    real = data.density("ring", n=4096, seed=0)
    model, losses = D.train(real, steps=2000, seed=0)
    assert sum(losses[-100:]) / 100 < 0.35 < 0.8 < sum(losses[:10]) / 10   # measured: 0.22 and 1.0
    x = model.sample(1000, generator=torch.Generator().manual_seed(0))
    cov = gan.mode_coverage(x, data.mode_centers("ring"))
    assert cov.modes >= 7 and cov.high_quality > 0.6


def test_a_conditional_model_takes_labels_and_guidance():
    torch.manual_seed(0)
    X = torch.randn(200, 4)
    y = torch.randint(0, 3, (200,))
    cfg = D.DiffusionConfig(dim=4, T=20, classes=3, hidden=32, layers=2, batch=32)
    model = D.Diffusion(X, cfg, y)
    for _ in range(5):
        assert math.isfinite(model.step())
    out = model.sample(6, y=torch.tensor([0, 1, 2, 0, 1, 2]), guidance=2.0,
                       method="DDIM", steps=5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 4) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="labels"):
        D.Diffusion(X, cfg)


# --------------------------------------------------------------------------- the bound on -log p(x_0)
def test_the_discretized_decoder_is_a_distribution_over_the_levels():
    """Whatever the mean, the masses of the levels' bins sum to 1."""
    levels = 5
    values = torch.linspace(-1, 1, levels)
    for mean in (-1.3, -0.2, 0.0, 0.61, 2.0):
        total = sum(torch.exp(-D.discretized_gaussian_nll(v.reshape(1, 1), torch.tensor([[mean]]), 0.3, levels))
                    for v in values)
        assert total.item() == pytest.approx(1.0, abs=1e-9)


def test_prior_kl_is_the_gaussian_kl():
    sch = D.make_schedule("linear", 10)
    x0 = torch.tensor([[0.5, -1.0]])
    ab = sch.alpha_bars[-1].double()
    m, v = ab.sqrt() * x0.double(), 1 - ab
    expected = (0.5 * (v + m ** 2 - 1 - torch.log(v))).sum()
    assert D.prior_kl(sch, x0).item() == pytest.approx(expected.item(), rel=1e-9)


@pytest.mark.parametrize("schedule", D.SCHEDULES)
def test_the_bound_of_the_ideal_denoiser_of_one_point_is_its_last_step(schedule):
    """Data: one image c on the grid (-log p = 0 for the ideal model). Its ideal noise guess
    is exact, (x_t - sqrt(ab_t) c) / sqrt(1 - ab_t), so every L_{t-1} is 0, the last step
    lands on c and L_0 is the mass outside c's bin; the bound is L_T + L_0 >= 0."""
    sch = D.make_schedule(schedule, 50)
    levels = 17
    c = torch.tensor([[-1.0, 0.25, 1.0, 0.5]])

    def ideal(x, t):
        ab = sch.alpha_bars[t].reshape(-1, 1)
        return (x - ab.sqrt() * c) / (1 - ab).sqrt()
    out = D.negative_elbo(ideal, sch, c.repeat(8, 1), levels)
    assert out["steps"] == pytest.approx(0.0, abs=1e-6)
    assert out["per_step"].shape == (49,)
    # L_0: N(c, beta_1) on c's bin, half a level (h) either side; the end levels' bins are open
    phi = torch.distributions.Normal(0.0, 1.0).cdf(torch.tensor(1 / (levels - 1) / sch.betas[1].sqrt().item()))
    expected = -2 * torch.log(2 * phi - 1) - 2 * torch.log(phi)         # two inner values, two ends
    assert out["decoder"] == pytest.approx(expected.item(), rel=1e-5)
    assert out["total"] == pytest.approx(out["prior"] + out["decoder"])
    # a wrong guess costs: noise predicted as zero
    wrong = D.negative_elbo(lambda x, t: torch.zeros_like(x), sch, c.repeat(8, 1), levels)
    assert wrong["steps"] > 1


def test_the_bound_refuses_data_off_scale():
    sch = D.make_schedule("linear", 10)
    with pytest.raises(ValueError, match="levels"):
        D.negative_elbo(lambda x, t: x, sch, torch.zeros(2, 2), 1)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        D.negative_elbo(lambda x, t: x, sch, torch.full((2, 2), 3.0), 17)
