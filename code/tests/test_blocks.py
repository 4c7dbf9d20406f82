"""genmech.blocks: softmax and cross-entropy, initialisation, normalisation, convolution,
each hand-written formula against PyTorch's own."""
import math

import pytest
import torch
import torch.nn.functional as F

from genmech import blocks


# --------------------------------------------------------------------------- softmax and cross-entropy
def test_softmax_is_torchs_and_ignores_a_shift_of_the_logits():
    torch.manual_seed(0)
    z = 5 * torch.randn(7, 10, dtype=torch.float64)
    assert torch.allclose(blocks.softmax(z), torch.softmax(z, dim=1))
    assert torch.allclose(blocks.softmax(z + 1000.0), torch.softmax(z, dim=1))    # no overflow
    assert torch.allclose(blocks.softmax(z).sum(1), torch.ones(7, dtype=torch.float64))


def test_cross_entropy_and_its_derived_gradient_match_torch():
    torch.manual_seed(1)
    z = (3 * torch.randn(16, 5, dtype=torch.float64)).requires_grad_(True)
    y = torch.randint(0, 5, (16,))
    loss = blocks.softmax_cross_entropy(z, y)
    assert torch.allclose(loss, F.cross_entropy(z, y))
    loss.backward()
    grad = blocks.softmax_cross_entropy_gradient(z.detach(), y)
    assert torch.allclose(grad, z.grad)
    assert torch.allclose(grad.sum(1), torch.zeros(16, dtype=torch.float64))      # p and y both sum to 1


@pytest.mark.parametrize("labels", [torch.tensor([0, 5]), torch.tensor([0.0, 1.0]), torch.tensor([-1, 0])])
def test_cross_entropy_refuses_bad_labels(labels):
    with pytest.raises(ValueError, match="labels"):
        blocks.softmax_cross_entropy(torch.zeros(2, 3), labels)


def test_softmax_regression_learns_the_digits_with_the_derived_gradient():
    r = blocks.softmax_regression(steps=60, lr=1.0)
    assert r["loss"][0] == pytest.approx(math.log(10), abs=1e-5)
    assert r["loss"][-1] < 0.6 * r["loss"][0]
    assert r["test accuracy"] > 0.8


# --------------------------------------------------------------------------- initialisation
def test_init_std_formulas():
    assert blocks.init_std("xavier", 64, 256) == pytest.approx(math.sqrt(2 / 320))
    assert blocks.init_std("he", 64, 256) == pytest.approx(math.sqrt(2 / 64))
    assert blocks.init_std("small", 64, 256) == blocks.SMALL_STD
    # torch's own initialisers draw with these standard deviations
    w = torch.empty(2000, 500)
    torch.nn.init.xavier_normal_(w)
    assert float(w.std()) == pytest.approx(blocks.init_std("xavier", 500, 2000), rel=0.02)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert float(w.std()) == pytest.approx(blocks.init_std("he", 500, 2000), rel=0.02)
    with pytest.raises(ValueError, match="initialisation"):
        blocks.init_std("lecun", 3, 3)


def test_deep_mlp_draws_its_weights_with_the_chosen_std():
    torch.manual_seed(0)
    m = blocks.DeepMLP(depth=3, width=300, activation="relu", init="he", n_in=300)
    for lin in m.linears[:-1]:
        assert float(lin.weight.detach().std()) == pytest.approx(math.sqrt(2 / 300), rel=0.03)
        assert float(lin.bias.detach().abs().max()) == 0.0
    with pytest.raises(ValueError, match="normalisation"):
        blocks.DeepMLP(norm="group")


def test_he_keeps_relu_signals_and_xavier_halves_their_variance():
    torch.manual_seed(0)
    x = torch.randn(512, 128)
    fwd_he, bwd_he = blocks.layer_scales(blocks.DeepMLP(12, 128, "relu", "he", n_in=128), x)
    torch.manual_seed(0)
    fwd_x, _ = blocks.layer_scales(blocks.DeepMLP(12, 128, "relu", "xavier", n_in=128), x)
    assert 0.3 < fwd_he[-1] / fwd_he[0] < 3 and 0.3 < bwd_he[-1] / bwd_he[0] < 3
    ratio = (fwd_x[-1] / fwd_x[0]) ** (1 / 11)
    assert ratio == pytest.approx(2 ** -0.5, abs=0.05)


# --------------------------------------------------------------------------- normalisation
def test_batch_norm_and_layer_norm_match_torch_layers():
    torch.manual_seed(2)
    z = 2 * torch.randn(40, 12, dtype=torch.float64) - 1
    gamma, beta = torch.rand(12, dtype=torch.float64) + 0.5, torch.randn(12, dtype=torch.float64)
    bn = torch.nn.BatchNorm1d(12).double().train()
    ln = torch.nn.LayerNorm(12).double()
    with torch.no_grad():
        for layer in (bn, ln):
            layer.weight.copy_(gamma)
            layer.bias.copy_(beta)
        assert torch.allclose(blocks.batch_norm(z, gamma, beta), bn(z))
        assert torch.allclose(blocks.layer_norm(z, gamma, beta), ln(z))
    # what each normalises over: batch norm each column, layer norm each row
    ones, zeros = torch.ones(12, dtype=torch.float64), torch.zeros(12, dtype=torch.float64)
    assert torch.allclose(blocks.batch_norm(z, ones, zeros).mean(0), zeros, atol=1e-12)
    assert torch.allclose(blocks.layer_norm(z, ones, zeros).mean(1), torch.zeros(40, dtype=torch.float64), atol=1e-12)
    with pytest.raises(ValueError, match="batch"):
        blocks.batch_norm(z[:1], gamma, beta)


def test_normalised_deep_net_trains_where_the_plain_one_stalls():
    losses = {}
    for norm in ("none", "batch"):
        torch.manual_seed(0)
        model = blocks.DeepMLP(20, 32, "relu", "xavier", norm=norm)
        losses[norm] = float(blocks.fit_digits(model, steps=150, lr=0.05, optimizer="sgd")["loss"][-30:].mean())
    assert losses["none"] > 2.0 and losses["batch"] < 1.5


# --------------------------------------------------------------------------- convolution
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_conv2d_is_torchs(padding):
    torch.manual_seed(3)
    x = torch.randn(2, 3, 8, 7, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    b = torch.randn(4, dtype=torch.float64)
    assert torch.allclose(blocks.conv2d(x, w, b, padding=padding), F.conv2d(x, w, b, padding=padding))


def test_conv2d_refuses_mismatched_channels_and_counts_parameters():
    with pytest.raises(ValueError, match="same C"):
        blocks.conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(1, 3, 3, 3))
    assert blocks.conv_parameters(1, 8, 3) == sum(p.numel() for p in torch.nn.Conv2d(1, 8, 3).parameters())
    dense = torch.nn.Linear(2 * 4 * 4, 3 * 4 * 4)
    assert blocks.dense_parameters(2, 3, 4, 4) == sum(p.numel() for p in dense.parameters())


def test_digits_cnn_shapes_and_parameter_count():
    model = blocks.DigitsCNN()
    assert model(torch.zeros(5, 64)).shape == (5, 10)
    expected = blocks.conv_parameters(1, 8, 3) + blocks.conv_parameters(8, 16, 3) + (16 * 4 + 1) * 10
    assert sum(p.numel() for p in model.parameters()) == expected


def test_shift_right_moves_columns_and_refuses_too_far():
    img = torch.arange(64.0).reshape(1, 64)
    moved = blocks.shift_right(img, 2).reshape(8, 8)
    assert torch.equal(moved[:, 2:], img.reshape(8, 8)[:, :6]) and float(moved[:, :2].abs().sum()) == 0
    assert torch.equal(blocks.shift_right(img, 0), img)
    with pytest.raises(ValueError, match="pixels"):
        blocks.shift_right(img, 8)


def test_the_sections_figures_draw_one_trace_per_curve():
    from genmech import nn_demos
    pair = ([1.0, 0.5, 0.25], [0.1, 0.2, 0.4])
    fig = nn_demos.init_scales_figure({("relu", "he"): pair, ("relu", "xavier"): pair, ("tanh", "he"): pair})
    assert len(fig.data) == 6 and list(fig.data[0].y) == pair[0]
    run = {"loss": torch.linspace(2.3, 0.1, 50)}
    fig = nn_demos.norm_losses_figure({("sgd", "none"): run, ("sgd", "batch"): run}, {"sgd": "SGD"}, window=10)
    assert len(fig.data) == 2 and len(fig.data[0].y) == 41
    fig = nn_demos.feature_maps_figure(torch.zeros(8, 8), torch.zeros(2, 8, 8), ["a", "b", "c"])
    assert len(fig.data) == 3
