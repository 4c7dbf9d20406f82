"""genmech.explain: saliency, gradient x input and integrated gradients agree with Captum's
``Saliency``, ``InputXGradient`` and ``IntegratedGradients`` on the same model;
integrated gradients are complete within 1 %; the randomization sanity check separates a
method that depends on the weights from one that does not; bad input is a readable error."""
import pytest
import torch
from torch import nn

from genmech import digits, explain


@pytest.fixture(scope="module")
def setup():
    _, _, X, y = digits.load()
    return digits.trained_classifier(), X[:100], y[:100]


def test_saliency_agrees_with_captum(setup):
    from captum.attr import Saliency
    model, X, y = setup
    expected = Saliency(model).attribute(X.clone(), target=y)
    assert torch.allclose(explain.saliency(model, X, y), expected, atol=1e-6)


def test_gradient_times_input_agrees_with_captum(setup):
    from captum.attr import InputXGradient
    model, X, y = setup
    expected = InputXGradient(model).attribute(X.clone(), target=y).detach()
    assert torch.allclose(explain.gradient_times_input(model, X, y), expected, atol=1e-6)


@pytest.mark.parametrize("steps", [2, 7, 50])   # captum needs more than one
def test_integrated_gradients_agree_with_captum(setup, steps):
    """Captum's midpoint rule ("riemann_middle") with the same number of points."""
    from captum.attr import IntegratedGradients
    model, X, y = setup
    base = X.mean(0, keepdim=True).expand_as(X).clone()
    for baseline in (None, base):
        expected = IntegratedGradients(model).attribute(
            X, baselines=baseline, target=y, n_steps=steps, method="riemann_middle").detach()
        ours = explain.integrated_gradients(model, X, y, baseline, steps)
        assert torch.allclose(ours, expected, atol=1e-5), (ours - expected).abs().max()


def test_integrated_gradients_agree_with_captums_default_rule(setup):
    """Captum's default, Gauss-Legendre with 50 points, and our midpoint rule with 300
    points estimate the same integral: their sums agree within 1 % of the score change."""
    from captum.attr import IntegratedGradients
    model, X, y = setup
    theirs = IntegratedGradients(model).attribute(X, target=y).detach()
    ours = explain.integrated_gradients(model, X, y, steps=300)
    with torch.no_grad():
        change = model(X).gather(1, y[:, None])[:, 0] - model(torch.zeros_like(X)).gather(1, y[:, None])[:, 0]
    assert ((ours.sum(1) - theirs.sum(1)).abs() / change.abs()).max() < 0.01


@pytest.mark.parametrize("baseline", ["blank", "mean", "noise"])
def test_integrated_gradients_are_complete_within_one_percent(setup, baseline):
    """Sum of attributions = f_c(x) - f_c(x') within 1 % (measured: worst of 100 digits
    0.35 % with 50 points and the blank baseline). A noise baseline's path crosses more
    kinks of the ReLUs: 50 points left one digit at 22 %, 200 points at 0.6 %."""
    model, X, y = setup
    base = {"blank": None, "mean": X.mean(0),
            "noise": torch.rand(X.shape, generator=torch.Generator().manual_seed(0))}[baseline]
    ig = explain.integrated_gradients(model, X, y, base, steps=200 if baseline == "noise" else 50)
    gap = explain.completeness_gap(model, ig, X, y, base)
    assert gap.max() < 0.01, gap.max()


def test_the_completeness_gap_shrinks_with_more_points(setup):
    model, X, y = setup
    gaps = [float(explain.completeness_gap(model, explain.integrated_gradients(model, X, y, steps=m), X, y).mean())
            for m in (1, 10, 100)]
    assert gaps[0] > gaps[1] > gaps[2]


def test_on_a_linear_model_every_method_is_exact():
    """f_c(x) = w_c . x + b_c: gradient w_c, so saliency |w_c|, gradient x input and IG from
    the blank baseline both w_c * x, which sums to f_c(x) - f_c(0) exactly."""
    torch.manual_seed(0)
    model = nn.Linear(6, 3)
    x = torch.rand(4, 6)
    target = torch.tensor([0, 1, 2, 1])
    w = model.weight[target].detach()
    assert torch.allclose(explain.saliency(model, x, target), w.abs())
    assert torch.allclose(explain.gradient_times_input(model, x, target), w * x)
    assert torch.allclose(explain.integrated_gradients(model, x, target, steps=3), w * x, atol=1e-6)
    assert explain.completeness_gap(model, w * x, x, target).max() < 1e-5


def test_rank_correlation_is_spearmans():
    from scipy.stats import spearmanr
    g = torch.Generator().manual_seed(0)
    a = torch.rand(5, 30, generator=g)
    b = a + 0.5 * torch.rand(5, 30, generator=g)
    b[:, :8] = 0.0                      # ties, as in attributions of blank pixels
    a[:, :5] = 0.0
    ours = explain.rank_correlation(a, b)
    for i in range(5):
        assert ours[i].item() == pytest.approx(spearmanr(a[i], b[i]).statistic, abs=1e-6)


def test_randomized_copies_leave_the_model_alone_and_randomize_from_the_top(setup):
    model, X, y = setup
    before = [p.clone() for p in model.parameters()]
    copies = explain.randomized_copies(model, seed=0)
    assert [name for name, _ in copies] == list(reversed(explain.linear_layers(model)))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    first = dict(copies[0][1].named_parameters())
    trained = dict(model.named_parameters())
    last = explain.linear_layers(model)[-1]
    assert not torch.equal(first[f"{last}.weight"], trained[f"{last}.weight"])
    first_layer = explain.linear_layers(model)[0]
    assert torch.equal(first[f"{first_layer}.weight"], trained[f"{first_layer}.weight"])


def test_the_sanity_check_separates_saliency_from_input_times_gradient(setup):
    """Measured: after randomizing every layer, saliency's rank correlation with the trained
    model's falls to ~0.00; gradient x input's stays ~0.91 (the input dominates it)."""
    model, X, y = setup
    result = explain.sanity_check(model, X, y)
    assert result["saliency"][-1] < 0.3
    assert result["gradient x input"][-1] > 0.6
    assert all(-1 <= v <= 1 for values in result.values() for v in values)


def test_bad_input_is_a_readable_error(setup):
    model, X, y = setup
    with pytest.raises(ValueError, match="baseline must have the inputs' shape"):
        explain.integrated_gradients(model, X[:5], y[:5], baseline=torch.zeros(5, 10))
    with pytest.raises(ValueError, match="baseline must have the inputs' shape"):
        explain.integrated_gradients(model, X[:5], y[:5], baseline=torch.zeros(63))
    with pytest.raises(ValueError, match="steps"):
        explain.integrated_gradients(model, X[:5], y[:5], steps=0)
    with pytest.raises(ValueError, match="target"):
        explain.saliency(model, X[:5], y[:4])
    with pytest.raises(ValueError, match="inputs must be"):
        explain.saliency(model, X[0], 3)
    with pytest.raises(ValueError, match="method must be one of"):
        explain.attribute("lime", model, X[:5], y[:5])
    # one image of 64 pixels is accepted as the baseline of every input
    assert explain.integrated_gradients(model, X[:5], y[:5], baseline=X.mean(0)).shape == (5, 64)


# --------------------------------------------------------------------------- a language model
@pytest.fixture(scope="module")
def small_gpt():
    from genmech.gpt import GPT, GPTConfig
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=12, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(0, 11, (5, 12), generator=torch.Generator().manual_seed(1))
    return model, idx


def test_the_logit_lens_of_the_last_state_is_the_models_output(small_gpt):
    model, idx = small_gpt
    states = explain.residual_stream(model, idx)
    assert len(states) == model.config.n_layer + 1
    assert all(s.shape == (5, 12, 16) for s in states)
    with torch.no_grad():
        logits = model(idx)[0]
    assert torch.allclose(explain.logit_lens(model, idx)[-1], logits, atol=1e-6)
    # the first state is the embeddings: token plus position
    expected = model.tok_emb(idx) + model.pos_emb(torch.arange(12))
    assert torch.allclose(states[0], expected.detach(), atol=1e-6)


def test_token_attribution_is_causal_and_matches_a_direct_gradient(small_gpt):
    model, idx = small_gpt
    position, target = 6, torch.tensor(3)
    a = explain.token_attribution(model, idx, position, target)
    assert a.shape == idx.shape
    assert torch.all(a[:, position + 1:] == 0)           # later tokens cannot matter
    assert torch.all(a[:, :position + 1].sum(1) > 0)
    # direct: differentiate through the embeddings by hand
    emb = model.tok_emb(idx).detach().requires_grad_(True)
    h = emb + model.pos_emb(torch.arange(12))
    for block in model.blocks:
        h = block(h)
    logit = model.head(model.ln_f(h))[:, position, 3].sum()
    (g,) = torch.autograd.grad(logit, emb)
    assert torch.allclose(a, (g * emb).sum(-1).abs(), atol=1e-6)


def test_a_linear_probe_finds_a_linear_property_and_not_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    assert explain.linear_probe(x[:400], y[:400], x[400:], y[400:]) > 0.95
    noise = torch.randint(0, 2, (600,), generator=g)
    assert explain.linear_probe(x[:400], noise[:400], x[400:], noise[400:]) < 0.65
    with pytest.raises(ValueError, match="one label per feature row"):
        explain.linear_probe(x[:400], y[:300], x[400:], y[400:])


def test_language_model_bad_input_is_a_readable_error(small_gpt):
    model, idx = small_gpt
    with pytest.raises(ValueError, match="position must be between"):
        explain.token_attribution(model, idx, 12, 0)
    with pytest.raises(ValueError, match="token ids"):
        explain.residual_stream(model, idx.float())
