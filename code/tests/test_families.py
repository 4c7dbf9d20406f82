"""The four families (genmech.families): pixels as tokens, the exact autoregressive
likelihood, the VAE's binomial bound, and the measurements of samples."""
import math

import numpy as np
import pytest
import torch

from genmech import digits, families, gpt, vae


def test_tokens_are_the_digits_own_grey_levels():
    X = digits.load()[0]
    tokens = families.to_tokens(X)
    assert tokens.min() >= 0 and tokens.max() == families.LEVELS - 1
    assert torch.equal(families.from_tokens(tokens), X)          # no information lost


def test_shifted_feeds_start_then_the_pixels():
    tokens = torch.arange(64).remainder(17).reshape(1, 64)
    x, y = families.shifted(tokens)
    assert x[0, 0] == families.START and torch.equal(x[0, 1:], tokens[0, :-1]) and torch.equal(y, tokens)


def test_an_untrained_model_is_close_to_uniform_over_17_levels_not_18():
    """Small initial weights give near-equal logits: -log p(x) close to 64 log 17 (START is
    never a pixel, so it must not take a share of the probability)."""
    torch.manual_seed(0)
    model = gpt.GPT(families.pixel_gpt_config()).eval()
    nll = families.pixel_nll(model, families.to_tokens(digits.load()[0][:20]))
    # measured 179.9 against 64 log 17 = 181.3; with START in the softmax it would be near 185.0
    assert nll.mean().item() == pytest.approx(64 * math.log(17), abs=2.5)


def test_pixel_nll_is_the_chain_rule_one_pixel_at_a_time():
    """Teacher-forced in one pass = the product of the conditionals computed from growing
    prefixes, as sampling sees them (so the model cannot peek at later pixels)."""
    torch.manual_seed(1)
    model = gpt.GPT(families.pixel_gpt_config()).eval()
    tokens = families.to_tokens(digits.load()[0][:3])
    total = torch.zeros(3, dtype=torch.float64)
    with torch.no_grad():
        for i in range(64):
            x, _ = families.shifted(tokens)
            logits, _ = model(x[:, :i + 1])
            logp = torch.log_softmax(logits[:, -1, :families.LEVELS], -1)
            total -= logp.gather(1, tokens[:, i:i + 1]).squeeze(1).double()
    assert torch.allclose(families.pixel_nll(model, tokens).double(), total, atol=1e-3)


def test_training_brings_the_exact_likelihood_far_below_uniform_and_samples_are_images():
    tokens = families.to_tokens(digits.load()[0])
    model, losses = families.train_pixel_gpt(tokens, steps=80)
    test = families.to_tokens(digits.load()[2])
    assert families.bits_per_pixel(families.pixel_nll(model, test)) < 3.0 < math.log2(17)
    images = families.sample_pixels(model, 5, seed=0)
    assert images.shape == (5, 64) and set(torch.unique(images * 16).tolist()) <= set(range(17))
    assert torch.equal(images, families.sample_pixels(model, 5, seed=0))        # seeded


def test_binomial_nll_is_torch_binomial():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 64, generator=g)
    k = torch.randint(0, 17, (4, 64), generator=g)
    expected = -torch.distributions.Binomial(16, logits=logits.double()).log_prob(k.double()).sum(1)
    assert torch.allclose(families.binomial_nll(logits, k), expected, atol=1e-9)


def test_the_vae_bound_is_above_the_importance_weighted_estimate():
    """ELBO <= log p(x): the bound (one z per term, averaged) must sit above a tighter,
    importance-weighted estimate with the same decoder (Burda et al. 2016)."""
    model, _ = vae.train_vae(vae.Config(latent=4), steps=150)
    x = digits.load()[2][:50]
    bound = families.vae_bound(model, x, samples=64).mean().item()
    k = families.to_tokens(x)
    with torch.no_grad():
        torch.manual_seed(0)
        mu, logvar = model.encode(x)
        z = vae.reparameterize(mu.expand(256, *mu.shape), logvar.expand(256, *mu.shape))
        normal = torch.distributions.Normal
        log_w = (-families.binomial_nll(model.decode(z), k.expand(256, *k.shape))
                 + normal(0.0, 1.0).log_prob(z).sum(-1).double()
                 - normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1).double())
        iw = -(torch.logsumexp(log_w, 0) - math.log(256)).mean().item()
    assert bound > iw > 0


def test_class_entropy_spans_zero_to_log2_10():
    assert families.class_entropy(np.full(10, 7)) == pytest.approx(math.log2(10))
    assert families.class_entropy([0, 0, 30, 0, 0, 0, 0, 0, 0, 0]) == 0


def test_measure_ranks_real_digits_above_noise():
    X, _, X_test, _ = digits.load()
    real = digits.features(X_test)
    good, noise = families.measure(X[:300], real), families.measure(torch.rand(300, 64), real)
    assert good["frechet"] < noise["frechet"] and good["recall"] > noise["recall"] + 0.5


@pytest.mark.parametrize("bad", [dict(gan=0), dict(vae=-1), dict(diffusion=1.5), dict(autoregressive=True)])
def test_a_bad_budget_is_a_readable_error(bad):
    with pytest.raises(ValueError, match="budget"):
        families.Budget(**bad)
