"""Section 6 of the VAE chapter: why samples blur, the conditional ELBO, the VQ-VAE's pieces."""
import math

import pytest
import torch

from genmech import conditional, digits, vae, vae_demos


# --------------------------------------------------------------------------- blur
def test_gaussian_nll_is_a_scaled_squared_error_plus_a_constant():
    torch.manual_seed(0)
    x, mean = torch.rand(5, 64), torch.rand(5, 64)
    s = 0.3
    expected = -torch.distributions.Normal(mean, s).log_prob(x).sum(-1)
    assert torch.allclose(vae.gaussian_nll(mean, x, s), expected, atol=1e-4)
    # differences between two outputs are squared errors / (2 s²): the constant cancels
    other = torch.rand(5, 64)
    diff = vae.gaussian_nll(mean, x, s) - vae.gaussian_nll(other, x, s)
    sq = ((x - mean) ** 2).sum(-1) - ((x - other) ** 2).sum(-1)
    assert torch.allclose(diff, sq / (2 * s**2), atol=1e-4)
    with pytest.raises(ValueError, match="positive"):
        vae.gaussian_nll(mean, x, 0.0)


def test_decoder_std_is_checked_and_switches_the_reconstruction_term():
    with pytest.raises(ValueError, match="decoder_std"):
        vae.Config(decoder_std=-1.0)
    with pytest.raises(ValueError, match="decoder_std"):
        vae.Config(decoder_std=float("inf"))
    torch.manual_seed(0)
    model = vae.VAE(vae.Config(latent=3, decoder_std=0.2))
    x = digits.load()[0][:6]
    torch.manual_seed(1)
    recon, _ = vae.elbo_terms(model, x)
    torch.manual_seed(1)
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu[None], logvar[None])
    expected = vae.gaussian_nll(torch.sigmoid(model.decode(z)), x, 0.2).mean(0)
    assert torch.allclose(recon, expected, atol=1e-5)
    model.cfg = vae.Config(latent=3)                        # the same networks, Bernoulli pixels
    torch.manual_seed(1)
    assert not torch.allclose(vae.elbo_terms(model, x)[0], recon)


def test_the_squared_error_is_minimised_by_the_mean():
    """The derivation of the page: over constants c, E‖x − c‖² is smallest at c = E[x],
    found here by gradient descent from a random start."""
    torch.manual_seed(0)
    images = torch.rand(7, 64)
    weights = torch.softmax(torch.randn(7), 0)
    c = torch.rand(64, requires_grad=True)
    opt = torch.optim.SGD([c], lr=0.4)
    for _ in range(200):
        loss = (weights[:, None] * (images - c) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.allclose(c.detach(), weights @ images, atol=1e-4)


def test_posterior_weighted_mean_weights_images_by_their_encoder_density():
    torch.manual_seed(0)
    model = vae.VAE(vae.Config(latent=2))
    x = digits.load()[0][:30]
    z = torch.randn(4, 2)
    means, n_eff = vae.posterior_weighted_mean(model, z, x)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    # by hand, one code at a time
    for k in range(4):
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z[k]).sum(-1).exp()
        w = q / q.sum()
        assert torch.allclose(means[k], w @ x, atol=1e-5)
        assert n_eff[k].item() == pytest.approx(1 / (w**2).sum().item(), rel=1e-4)
    assert ((n_eff >= 1 - 1e-5) & (n_eff <= 30 + 1e-3)).all()
    with pytest.raises(ValueError, match="codes must have shape"):
        vae.posterior_weighted_mean(model, torch.zeros(4, 3), x)


def test_sharpness_is_zero_on_flat_and_linear_images_and_falls_when_averaged():
    flat = torch.full((1, 64), 0.4)
    ramp = torch.linspace(0, 1, 8).repeat(8)[None]        # changes linearly along each row
    assert vae.sharpness(flat).item() == pytest.approx(0.0, abs=1e-6)
    assert vae.sharpness(ramp).item() == pytest.approx(0.0, abs=1e-6)
    dot = torch.zeros(1, 64)
    dot[0, 3 * 8 + 3] = 1.0                                  # a lone pixel: |4| at it, |−1| at 4 neighbours
    assert vae.sharpness(dot).item() == pytest.approx(8 / 36)
    x = digits.load()[0][:200]
    blended = 0.5 * (x[:100] + x[100:])
    assert vae.sharpness(blended).mean() < 0.5 * (vae.sharpness(x[:100]).mean() + vae.sharpness(x[100:]).mean())


def test_decoder_sample_draws_from_the_whole_decoder_distribution():
    torch.manual_seed(0)
    bern = vae.VAE(vae.Config(latent=2))
    gauss = vae.VAE(vae.Config(latent=2, decoder_std=0.3))
    gauss.load_state_dict(bern.state_dict())
    z = torch.zeros(4000, 2)
    b = vae.decoder_sample(bern, z, seed=1)
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    mean = vae.decode_mean(bern, z[:1])[0]
    assert torch.allclose(b.mean(0), mean, atol=0.04)            # Bernoulli: the mean is p
    g = vae.decoder_sample(gauss, z, seed=1)
    assert torch.allclose(g.mean(0), mean, atol=0.03)
    assert g.std(0).mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(vae.decoder_sample(gauss, z[:5], seed=2), vae.decoder_sample(gauss, z[:5], seed=2))


# --------------------------------------------------------------------------- the conditional ELBO
def test_conditional_elbo_is_the_vae_elbo_when_the_label_is_ignored():
    """Zero the weights that read the one-hot label, copy the rest into a VAE: the conditional
    ELBO's two terms equal the VAE's, with the same noise."""
    torch.manual_seed(0)
    cfg = vae.Config(latent=3, hidden=16)
    cvae = conditional.ConditionalVAE(cfg)
    plain = vae.VAE(cfg)
    with torch.no_grad():
        for net in ("encoder", "decoder"):
            c_net, p_net = getattr(cvae, net), getattr(plain, net)
            first_c = next(m for m in c_net.modules() if isinstance(m, torch.nn.Linear))
            first_p = next(m for m in p_net.modules() if isinstance(m, torch.nn.Linear))
            first_c.weight[:, -conditional.CLASSES:] = 0.0          # the label's columns
            first_p.weight.copy_(first_c.weight[:, :-conditional.CLASSES])
            first_p.bias.copy_(first_c.bias)
            rest_c = [m for m in c_net.modules() if isinstance(m, torch.nn.Linear)][1:]
            rest_p = [m for m in p_net.modules() if isinstance(m, torch.nn.Linear)][1:]
            for a, b in zip(rest_c, rest_p):
                b.load_state_dict(a.state_dict())
    x, labels = digits.load()[0][:12], digits.load()[1][:12]
    torch.manual_seed(3)
    c_terms = vae.conditional_elbo_terms(cvae, x, labels, samples=4)
    torch.manual_seed(3)
    p_terms = vae.elbo_terms(plain, x, samples=4)
    for c, p in zip(c_terms, p_terms):
        assert torch.allclose(c, p, atol=1e-5)
    # and ConditionalVAE.loss is one sample of the same bound
    torch.manual_seed(3)
    recon, kl = vae.conditional_elbo_terms(cvae, x, labels)
    torch.manual_seed(3)
    assert torch.allclose(cvae.loss(x, labels), recon + kl, atol=1e-5)


def test_conditional_elbo_depends_on_the_label_and_checks_it():
    torch.manual_seed(0)
    cvae = conditional.ConditionalVAE(vae.Config(latent=2, hidden=16))
    x, labels = digits.load()[0][:8], digits.load()[1][:8]
    torch.manual_seed(0)
    right = sum(t.sum() for t in vae.conditional_elbo_terms(cvae, x, labels))
    torch.manual_seed(0)
    wrong = sum(t.sum() for t in vae.conditional_elbo_terms(cvae, x, (labels + 1) % 10))
    assert right.item() != pytest.approx(wrong.item())
    with pytest.raises(ValueError, match="one label per image"):
        vae.conditional_elbo_terms(cvae, x, labels[:3])


# --------------------------------------------------------------------------- VQ-VAE
def test_quantize_picks_the_nearest_code():
    torch.manual_seed(0)
    codebook = torch.randn(16, 3)
    z = torch.randn(5, 4, 3)
    e, idx = vae.quantize(z, codebook)
    assert idx.shape == (5, 4) and e.shape == (5, 4, 3)
    dists = torch.cdist(z.reshape(-1, 3), codebook)                # brute force, another way
    assert torch.equal(idx.reshape(-1), dists.argmin(1))
    assert torch.equal(e, codebook[idx])
    # a vector equal to a code maps to that code
    e2, idx2 = vae.quantize(codebook[[7, 2]], codebook)
    assert idx2.tolist() == [7, 2] and torch.equal(e2, codebook[[7, 2]])
    with pytest.raises(ValueError, match="codebook"):
        vae.quantize(torch.zeros(2, 4), codebook)


def test_straight_through_passes_the_gradient_unchanged():
    torch.manual_seed(0)
    z_e = torch.randn(6, 3, requires_grad=True)
    codebook = torch.randn(8, 3)
    e, _ = vae.quantize(z_e, codebook)
    z_q = vae.straight_through(z_e, e)
    assert torch.allclose(z_q, e, atol=1e-6)                      # forward: the code (up to rounding)
    upstream = torch.randn(6, 3)
    z_q.backward(upstream)
    assert torch.equal(z_e.grad, upstream)                        # backward: the identity
    # without it, quantisation stops the gradient: nothing reaches z_e through argmin
    z2 = z_e.detach().clone().requires_grad_(True)
    e2, _ = vae.quantize(z2, codebook)
    assert not e2.requires_grad


def test_vq_losses_send_their_gradients_to_different_places():
    torch.manual_seed(0)
    z_e = torch.randn(5, 2, 4, requires_grad=True)
    codebook = torch.randn(6, 4, requires_grad=True)
    e, _ = vae.quantize(z_e, codebook)
    cb, commit = vae.vq_losses(z_e, e)
    assert torch.allclose(cb, commit) and cb.shape == (5, 2)
    assert torch.allclose(cb, ((z_e - e) ** 2).sum(-1))
    cb.sum().backward(retain_graph=True)
    assert z_e.grad is None and codebook.grad.abs().sum() > 0      # codebook loss: codes only
    codebook.grad = None
    commit.sum().backward()
    assert codebook.grad is None and z_e.grad.abs().sum() > 0      # commitment: encoder only


def test_codebook_perplexity():
    assert vae.codebook_perplexity(torch.arange(8).repeat(5), 8) == (8, pytest.approx(8.0))
    assert vae.codebook_perplexity(torch.full((20,), 3), 8) == (1, pytest.approx(1.0))
    used, ppl = vae.codebook_perplexity(torch.tensor([0, 0, 0, 1]), 4)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert used == 2 and ppl == pytest.approx(math.exp(h))
    with pytest.raises(ValueError, match="0..3"):
        vae.codebook_perplexity(torch.tensor([4]), 4)
    with pytest.raises(ValueError, match="integer"):
        vae.codebook_perplexity(torch.tensor([0.5]), 4)


def test_vqconfig_and_decode_indices_check_their_input():
    with pytest.raises(ValueError, match="codes"):
        vae.VQConfig(codes=0)
    with pytest.raises(ValueError, match="commitment"):
        vae.VQConfig(commitment=-1)
    model = vae.VQVAE(vae.VQConfig(codes=8, slots=3))
    assert model.decode_indices(torch.zeros(2, 3, dtype=torch.long)).shape == (2, 64)
    with pytest.raises(ValueError, match="shape"):
        model.decode_indices(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="0..7"):
        model.decode_indices(torch.full((1, 3), 8))


def test_a_small_vqvae_learns_to_reconstruct_and_uses_its_codebook():
    X, _, X_test, _ = digits.load()
    cfg = vae.VQConfig(codes=16, dim=4, slots=4)
    model, hist = vae.train_vqvae(cfg, steps=400)
    start = vae.bernoulli_nll(torch.zeros(len(X_test), 64), X_test).mean().item()   # p = ½ everywhere
    with torch.no_grad():
        out = model.losses(X_test)
    assert out["reconstruction"].mean().item() < 0.6 * start
    assert hist.reconstruction[-1] < hist.reconstruction[0]
    used, ppl = vae.codebook_perplexity(out["indices"], cfg.codes)
    assert used >= 8 and ppl > 4
    # the codebook moved from its start: the codebook loss trained it
    torch.manual_seed(cfg.seed)
    assert not torch.allclose(model.codebook, vae.VQVAE(cfg).codebook)


def test_codebook_usage_figure():
    fig = vae_demos.codebook_usage_figure(torch.tensor([0, 0, 1, 2]), 5)
    assert len(fig.data[0].y) == 5 and fig.data[0].y[0] == pytest.approx(0.5)
    assert "3 of 5" in fig.layout.title.text and fig.layout.meta["alt"]
