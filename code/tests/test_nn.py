"""genmech.nn: the MLP, universal approximation, the playground, depth, generalization."""
import asyncio
import copy

import numpy as np
import pytest
import torch

from genmech import nn as gnn, nets, nn_demos as gnn_demos
from genmech.live import LiveView
from waiting import until


# --------------------------------------------------------------------------- 1. the neuron
def test_mlp_keeps_its_shape_and_count_matches_the_formula():
    model = nets.mlp([2, 16, 16, 1])
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert model(torch.zeros(5, 2)).shape == (5, 1)
    assert isinstance(nets.mlp([3, 4, 2], "tanh", "sigmoid")[-1], torch.nn.Sigmoid)
    for sizes in ([1, 1], [2, 16, 16, 1], [64, 128, 10], [3, 7, 5, 2, 9]):
        derived = gnn.mlp_parameter_formula(sizes)
        assert nets.count_parameters(nets.mlp(sizes)) == derived
        assert nets.count_parameters(nets.MLP(nets.MLPConfig(tuple(sizes)))) == derived
    assert gnn.mlp_parameter_formula([2, 16, 16, 1]) == 3 * 16 + 17 * 16 + 17


def test_mlp_module_and_sequential_build_the_same_network_from_a_seed():
    torch.manual_seed(4)
    seq = nets.mlp([2, 8, 8, 1], "tanh")
    torch.manual_seed(4)
    mod = nets.MLP(nets.MLPConfig((2, 8, 8, 1), "tanh"))
    x = torch.randn(10, 2)
    assert torch.allclose(seq(x), mod(x))
    states = mod.hidden_states(x)
    assert [s.shape for s in states] == [(10, 8), (10, 8)]
    assert torch.allclose(mod.linears[-1](states[-1]), mod(x))


def test_activation_derivatives_match_their_closed_forms():
    x = np.linspace(-4, 4, 81)
    s, ds = gnn.activation_and_derivative("sigmoid", x)
    assert np.allclose(ds, s * (1 - s))
    t, dt = gnn.activation_and_derivative("tanh", x)
    assert np.allclose(dt, 1 - t**2)
    r, dr = gnn.activation_and_derivative("relu", x)
    assert np.allclose(r, np.maximum(x, 0)) and np.allclose(dr[x > 0], 1) and np.allclose(dr[x < 0], 0)
    _, dl = gnn.activation_and_derivative("leaky_relu", x)
    assert np.allclose(dl[x < 0], 0.2)
    g, _ = gnn.activation_and_derivative("gelu", x)
    assert g[-1] == pytest.approx(4, abs=1e-3) and g[0] == pytest.approx(0, abs=1e-3)


def test_bad_arguments_raise_readable_errors():
    with pytest.raises(ValueError, match="positive ints"):
        nets.mlp([2, 0, 1])
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nets.mlp([2, 3, 1], "swish")
    with pytest.raises(ValueError, match="dropout"):
        nets.MLP(nets.MLPConfig((2, 3, 1), dropout=1.0))
    with pytest.raises(ValueError, match="unknown target"):
        gnn.fit_1d(4, "square")
    with pytest.raises(ValueError, match="dataset must be one of"):
        gnn_demos.Playground(dataset="iris")
    with pytest.raises(ValueError, match="steps must be a positive int"):
        gnn_demos.Playground().code(steps=0)
    with pytest.raises(ValueError, match="increasing"):
        gnn.relu_interpolant("wiggle", [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="labels"):
        gnn.perceptron([[0.0, 1.0]], [0])


# --------------------------------------------------------------------------- 2. universal approximation
def test_side_by_side_training_equals_training_alone():
    (alone, e1), = gnn.fit_widths([4], steps=100)
    together = gnn.fit_widths([2, 4, 7], steps=100)
    _, e2 = together[1]
    assert e1 == pytest.approx(e2, rel=1e-4)
    x = torch.linspace(-2, 2, 9).unsqueeze(1)
    assert torch.allclose(alone(x), together[1][0](x), atol=1e-5)


def test_fit_error_falls_as_width_grows():
    widths = [1, 4, 16, 64]
    errors = [e for _, e in gnn.fit_widths(widths, steps=2000, lr=0.01)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[0] / 10


def test_hand_built_relu_network_interpolates_with_error_shrinking_like_one_over_n_squared():
    fn = gnn.target("wiggle")
    knots = np.linspace(-2, 2, 17)
    model = gnn.relu_interpolant(fn, knots)
    assert nets.count_parameters(model) == gnn.mlp_parameter_formula([1, 16, 1])
    with torch.no_grad():
        at_knots = model(torch.tensor(knots, dtype=torch.float32).unsqueeze(1)).squeeze(1).numpy()
    assert np.allclose(at_knots, fn(knots), atol=1e-4)
    e32 = gnn.rms_error(gnn.relu_interpolant(fn, np.linspace(-2, 2, 33)), fn)
    e64 = gnn.rms_error(gnn.relu_interpolant(fn, np.linspace(-2, 2, 65)), fn)
    assert 3.5 < e32 / e64 < 4.5          # halving the spacing quarters the error


def test_width_fit_demo_learns_and_its_figure_moves():
    demo = gnn_demos.WidthFit(width=16)
    before = demo.frame()[-1]["y"].copy()
    first = demo.step(1)["loss"]
    last = demo.step(800)["loss"]
    assert last < 0.05 < first
    assert not np.allclose(before, demo.frame()[-1]["y"])
    assert len(demo.frame()) == len(demo.figure().data) == gnn_demos.SHOWN_UNITS + 2


def test_width_fit_divergence_is_reported_not_raised():
    demo = gnn_demos.WidthFit(width=64, optimizer="SGD", lr=1.0)
    demo.step(200)
    assert demo.diverged and demo.steps < 200
    assert "Diverged" in demo.status and "smaller learning rate" in demo.status
    demo.set(lr=0.01)
    assert not demo.diverged and demo.steps == 0


# --------------------------------------------------------------------------- 3. the playground
def test_playground_default_run_reaches_95_percent_on_spirals():
    demo = gnn_demos.Playground()
    assert demo.hp["dataset"] == "spirals"
    before = demo.frame()[0]["z"].copy()
    demo.step(gnn_demos.DEFAULT_STEPS)
    assert demo.metrics.last["test accuracy"] >= 0.95
    assert demo.metrics.last["train loss"] < 0.05
    assert demo.evaluate()["test accuracy"] >= 0.95
    assert not np.array_equal(before, demo.frame()[0]["z"])   # the boundary moved


def test_playground_frames_fit_the_figure_for_every_shape():
    for hp in (dict(width=3, depth=1), dict(width=32, depth=4, units="first hidden layer"),
               dict(dataset="xor", activation="relu")):
        demo = gnn_demos.Playground(**hp)
        demo.step(2)
        assert len(demo.frame()) == len(demo.figure().data) == 5 + gnn_demos.SHOWN_HEATMAPS


@pytest.mark.parametrize("hp", [dict(), dict(dataset="moons", activation="relu", depth=3, width=8,
                                           optimizer="SGD", lr=0.3, weight_decay=1e-3, dropout=0.1)])
def test_show_code_reproduces_the_run(hp, capsys):
    demo = gnn_demos.Playground(**hp)
    demo.step(150)
    source = demo.code()
    assert "nn.Sequential" in source and "range(150)" in source
    namespace = {}
    exec(compile(source, "<playground code>", "exec"), namespace)
    assert "test accuracy after 150 steps" in capsys.readouterr().out
    # the same seed and the same operations: the same network, hence the same accuracy
    assert namespace["test_accuracy"] == pytest.approx(demo.evaluate()["test accuracy"], abs=0.02)


def test_playground_applies_learning_rate_and_weight_decay_live():
    demo = gnn_demos.Playground()
    demo.step(5)
    demo.set(lr=0.001, weight_decay=1e-2)
    assert demo.steps == 5
    assert demo.opt.param_groups[0]["lr"] == 0.001 and demo.opt.param_groups[0]["weight_decay"] == 1e-2
    demo.set(width=8)
    assert demo.steps == 0 and demo.model.linears[0].out_features == 8


def test_playground_view_buttons_train_and_show_code():
    async def scenario():
        view = LiveView(gnn_demos.Playground(), key="playground")
        view.buttons["Play"].click()
        assert await until(lambda: view.demo.steps > 0)
        assert view.playing
        view.buttons["Pause"].click()
        await asyncio.sleep(0.01)
        assert view.task.done() and "paused" in view.status.value
        view.buttons["Show code"].click()
        assert f"range({view.demo.steps})" in view.code.value
        view.controls["width"].value = 5
        assert "nn.Linear(2, 5)" in view.code.value     # the shown code follows the controls
        view.buttons["Show code"].click()               # a second click hides it
        assert view.code.value == ""
    asyncio.run(scenario())


def test_playground_losses_are_measured_alike():
    """Train and test loss both after the update with dropout off: at dropout 0.5 the train
    loss reported is the loss of the model the test loss is measured on."""
    demo = gnn_demos.Playground(dropout=0.5)
    metrics = demo.step(1)
    demo.model.eval()
    with torch.no_grad():
        train = demo.loss_fn(demo.model(demo.X_train).squeeze(1), demo.y_train).item()
    assert metrics["train loss"] == pytest.approx(train, rel=1e-6)


# --------------------------------------------------------------------------- 4. depth
def test_sawtooth_doubles_its_pieces_with_each_layer():
    for k in range(1, 8):
        net = gnn.sawtooth_network(k)
        assert gnn.count_linear_pieces(net) == 2**k
        assert nets.count_parameters(net) == 7 * k
    torch.manual_seed(0)
    for width in (4, 16, 64):          # one hidden layer of N ReLUs: at most N + 1 pieces
        assert gnn.count_linear_pieces(gnn.one_hidden_layer(width), -3, 3) <= width + 1


def test_equal_budget_widths_hit_the_budget():
    for depth in (1, 2, 3, 4):
        w = gnn.equal_budget_width(depth, 1000)
        count = gnn.mlp_parameter_formula([2] + [w] * depth + [1])
        assert abs(count - 1000) < 0.06 * 1000


# --------------------------------------------------------------------------- 5. generalization
def test_large_network_overfits_and_weight_decay_helps():
    x, y = gnn.noisy_sine(20, seed=1)
    xt, yt = gnn.noisy_sine(300, seed=2)
    plain = gnn.train_regression((x, y, xt, yt), sizes=(1, 64, 64, 1), steps=1000, lr=0.01)
    assert plain["train"][-1] < 0.07 < plain["test"][-1]           # fits noise (variance 0.09)
    assert plain["test"][-1] > 1.5 * plain["test"].min()           # test loss rose after its minimum
    decayed = gnn.train_regression((x, y, xt, yt), sizes=(1, 64, 64, 1), steps=1000, lr=0.01,
                                   weight_decay=1e-2)
    assert decayed["test"][-1] < plain["test"][-1]


# --------------------------------------------------------------------------- 6. the perceptron
def test_perceptron_learns_and_but_never_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    _, _, and_history = gnn.perceptron(X, np.array([-1, -1, -1, 1]), epochs=20)
    assert and_history[-1] == 0
    _, _, xor_history = gnn.perceptron(X, np.array([-1, 1, 1, -1]), epochs=50)
    assert min(xor_history) > 0


# --------------------------------------------------------------------------- training in one page
def test_gradient_descent_is_torchs_sgd_and_lowers_the_loss():
    """Our explicit step theta <- theta - eta grad L is exactly torch.optim.SGD's."""
    x = gnn.grid_1d(64)
    y = torch.as_tensor(gnn.target("wiggle")(x.numpy()), dtype=torch.float32)
    torch.manual_seed(0)
    ours = gnn.one_hidden_layer(4)
    theirs = copy.deepcopy(ours)
    losses = gnn.gradient_descent(ours, x, y, steps=50, lr=0.05)
    opt = torch.optim.SGD(theirs.parameters(), lr=0.05)
    for _ in range(50):
        loss = ((theirs(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert losses.shape == (50,) and losses[-1] < losses[0]


def test_gradient_descent_refuses_a_bad_learning_rate():
    with pytest.raises(ValueError, match="lr"):
        gnn.gradient_descent(gnn.one_hidden_layer(2), gnn.grid_1d(8), gnn.grid_1d(8), steps=5, lr=0.0)


# --------------------------------------------------------------------------- nets.fit
def _regression():
    torch.manual_seed(0)
    X = torch.randn(64, 3)
    y = X @ torch.tensor([1.0, -2.0, 0.5])
    model = torch.nn.Linear(3, 1)
    return X, y, model


def test_fit_is_the_plain_training_loop():
    """nets.fit takes the same steps as the loop written out: the same losses, the same weights."""
    from genmech.nets import fit

    X, y, model = _regression()
    twin = torch.nn.Linear(3, 1)
    twin.load_state_dict(model.state_dict())
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)

    def batch_loss():
        b = torch.randint(len(X), (16,), generator=gen_a)
        return ((model(X[b]).squeeze(1) - y[b]) ** 2).mean()

    losses = fit(opt, batch_loss, 50)
    opt_b, by_hand = torch.optim.Adam(twin.parameters(), lr=0.05), []
    for _ in range(50):
        b = torch.randint(len(X), (16,), generator=gen_b)
        loss = ((twin(X[b]).squeeze(1) - y[b]) ** 2).mean()
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
        by_hand.append(loss.item())
    assert losses == by_hand and losses[-1] < losses[0] / 10
    assert torch.equal(model.weight, twin.weight)


def test_fit_stops_when_asked_and_refuses_bad_steps():
    from genmech.nets import fit

    X, y, model = _regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = fit(opt, lambda: ((model(X).squeeze(1) - y) ** 2).mean(), 100, on_step=lambda step, loss: step == 4)
    assert len(losses) == 5
    assert fit(opt, lambda: model(X).sum(), 0) == []
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(ValueError, match="steps"):
            fit(opt, lambda: model(X).sum(), bad)
