"""The scalar autograd engine and the matrix form of backpropagation: every gradient checked against torch.autograd."""
import math
import random

import numpy as np
import pytest
import torch

from genmech import autograd
from genmech.autograd import ScalarMLP, Value, topological_order
from genmech.autograd_demos import draw_graph


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * (1 + abs(b))


# Each operation applied to a pair (our Value, the same number as a float64 torch leaf).
UNARY = {
    "tanh": (lambda v: v.tanh(), torch.tanh),
    "relu": (lambda v: v.relu(), torch.relu),
    "exp": (lambda v: (v * 0.3).exp(), lambda t: (t * 0.3).exp()),
    "log": (lambda v: (v * v + 1).log(), lambda t: (t * t + 1).log()),      # positive argument
    "square": (lambda v: v ** 2, lambda t: t ** 2),
    "cube": (lambda v: v ** 3, lambda t: t ** 3),
    "neg": (lambda v: -v, lambda t: -t),
}
BINARY = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "*": (lambda a, b: a * b, lambda a, b: a * b),
    "/": (lambda a, b: a / (b * b + 0.5), lambda a, b: a / (b * b + 0.5)),  # never divides by 0
    "const": (lambda a, b: 2.5 - a * 1.5 + 3 / (b * b + 1),
              lambda a, b: 2.5 - a * 1.5 + 3 / (b * b + 1)),                # numbers on the left
}


def random_expression(seed: int, leaves: int = 4, ops: int = 12):
    """The same random expression built twice: from Values and from torch tensors."""
    rng = random.Random(seed)
    xs = [rng.uniform(-2, 2) for _ in range(leaves)]
    ours = [Value(x, label=f"x{i}") for i, x in enumerate(xs)]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    pool = list(zip(ours, theirs))
    for _ in range(ops):
        if rng.random() < 0.4:
            f, g = UNARY[rng.choice(list(UNARY))]
            v, t = rng.choice(pool)
            pool.append((f(v), g(t)))
        else:
            f, g = BINARY[rng.choice(list(BINARY))]
            (v1, t1), (v2, t2) = rng.choice(pool), rng.choice(pool)   # may reuse a node twice
            pool.append((f(v1, v2), g(t1, t2)))
    # sum the last few nodes so that several branches meet in the output
    out_v, out_t = pool[-1]
    for v, t in pool[-4:-1]:
        out_v, out_t = out_v + v, out_t + t
    return ours, theirs, out_v, out_t


@pytest.mark.parametrize("seed", range(60))
def test_random_expressions_match_torch(seed):
    ours, theirs, out_v, out_t = random_expression(seed)
    out_v.backward()
    out_t.backward()
    assert close(out_v.data, out_t.item())
    for v, t in zip(ours, theirs):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert close(v.grad, expected), (v.label, v.grad, expected)


def test_every_operation_matches_torch():
    for name, (f, g) in UNARY.items():
        for x in (-1.3, 0.7, 2.0):
            v, t = Value(x), torch.tensor(x, dtype=torch.float64, requires_grad=True)
            out_v, out_t = f(v), g(t)
            out_v.backward()
            out_t.backward()
            assert close(out_v.data, out_t.item()) and close(v.grad, t.grad.item()), name
    a, b = Value(1.5), Value(-0.5)
    out = a / b + a ** 0.5
    out.backward()
    assert close(a.grad, 1 / -0.5 + 0.5 * 1.5 ** -0.5)
    assert close(b.grad, -1.5 / 0.25)


def test_a_node_used_twice_gets_both_contributions():
    a = Value(3.0)
    b = a * a + a          # db/da = 2a + 1 = 7
    b.backward()
    assert a.grad == 7.0
    b.backward()           # backward twice gives the same answer, not double
    assert a.grad == 7.0


def test_worked_example_of_the_section():
    # f = (a*b + c) * d with a=2, b=-3, c=10, d=-2: the numbers of the notebook's example
    a, b, c, d = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
    e = a * b
    f = (e + c) * d
    f.backward()
    assert f.data == -8.0
    assert (a.grad, b.grad, c.grad, d.grad, e.grad) == (6.0, -4.0, -2.0, 4.0, -2.0)


@pytest.mark.parametrize("seed", range(5))
def test_mlp_gradients_match_torch(seed):
    sizes = [3, 5, 4, 2]
    net = ScalarMLP(sizes, seed=seed)
    rng = random.Random(100 + seed)
    X = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(6)]
    Y = [[rng.uniform(-1, 1) for _ in range(2)] for _ in range(6)]
    # ours: mean squared error over a batch of 6
    loss = sum(((o - y) ** 2 for x, ys in zip(X, Y) for o, y in zip(net(x), ys)), Value(0.0))
    loss = loss / (len(X) * 2)
    loss.backward()
    # torch: the same weights in nn.Linear layers
    layers = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        lin = torch.nn.Linear(len(W[0]), len(W)).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor([[w.data for w in row] for row in W], dtype=torch.float64))
            lin.bias.copy_(torch.tensor([v.data for v in b], dtype=torch.float64))
        layers += [lin] + ([torch.nn.Tanh()] if l < len(net.weights) - 1 else [])
    model = torch.nn.Sequential(*layers)
    loss_t = torch.nn.functional.mse_loss(model(torch.tensor(X, dtype=torch.float64)),
                                          torch.tensor(Y, dtype=torch.float64))
    loss_t.backward()
    assert close(loss.data, loss_t.item())
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    for (W, b), lin in zip(zip(net.weights, net.biases), lins):
        for row, grow in zip(W, lin.weight.grad):
            for w, g in zip(row, grow):
                assert close(w.grad, g.item())
        for v, g in zip(b, lin.bias.grad):
            assert close(v.grad, g.item())
    assert len(net.parameters()) == sum(p.numel() for p in model.parameters())


def test_mlp_learns_by_gradient_descent():
    net = ScalarMLP([2, 8, 1], seed=1)
    X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    Y = [-1, 1, 1, -1]                       # XOR: needs the hidden layer
    for _ in range(300):
        loss = sum(((net(x)[0] - y) ** 2 for x, y in zip(X, Y)), Value(0.0)) / 4
        loss.backward()
        for p in net.parameters():
            p.data -= 0.2 * p.grad
    assert loss.data < 0.01


def test_topological_order_puts_children_first_and_handles_deep_graphs():
    x = Value(1.0)
    y = x
    for _ in range(5000):                    # deeper than Python's recursion limit
        y = y * 1.0001
    order = topological_order(y)
    assert order[-1] is y and len(order) == 1 + 2 * 5000   # x, and each step's product and constant
    place = {id(n): i for i, n in enumerate(order)}
    assert all(place[id(c)] < place[id(n)] for n in order for c in n._prev)
    y.backward()
    assert close(x.grad, 1.0001 ** 5000, 1e-9)


def test_bad_inputs_raise_readable_errors():
    with pytest.raises(TypeError, match="plain number"):
        Value("3")
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="log needs a positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="no real derivative"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="positive ints"):
        ScalarMLP([2])
    with pytest.raises(ValueError, match="expected 2 inputs"):
        ScalarMLP([2, 1])([1.0])


def test_draw_graph_shows_every_node_with_value_and_gradient():
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    f = a * b + c
    f.label = "f"
    f.backward()
    fig = draw_graph(f)
    texts = [ann.text for ann in fig.layout.annotations]
    assert len(texts) == 5                      # a, b, c, a*b, f
    assert any("<b>a</b>" in t and "grad -3" in t for t in texts)
    assert any("<b>f</b>" in t and "data 4" in t and "grad 1" in t for t in texts)
    assert sorted(fig.data[1].text) == ["*", "+"]
    assert math.isfinite(fig.layout.height)


# --------------------------------------------------------------------------- matrix form
@pytest.mark.parametrize("seed", range(5))
def test_dense_layer_backward_matches_torch(seed):
    """dL/dW = delta^T X, dL/db = row sums of delta, dL/dX = delta W, and the tanh step,
    on a random layer and a random loss sum(C * tanh(Y)), against torch.autograd."""
    rng = np.random.default_rng(seed)
    B, n_in, n_out = rng.integers(1, 9, size=3)
    X, W, b = rng.normal(size=(B, n_in)), rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    C = rng.normal(size=(B, n_out))
    H = np.tanh(autograd.dense(X, W, b))
    dW, db, dX = autograd.dense_backward(X, W, autograd.tanh_backward(H, C))
    tX, tW, tb = (torch.tensor(a, requires_grad=True) for a in (X, W, b))
    (torch.tensor(C) * torch.tanh(torch.nn.functional.linear(tX, tW, tb))).sum().backward()
    for ours, theirs in ((dW, tW), (db, tb), (dX, tX)):
        assert ours.shape == theirs.shape
        assert np.allclose(ours, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sizes", [[2, 16, 16, 1], [3, 5, 4], [4, 2]])
def test_matrix_mlp_gradients_match_torch_and_the_scalar_engine(sizes):
    rng = np.random.default_rng(len(sizes))
    X, T = rng.uniform(-1, 1, (6, sizes[0])), rng.normal(size=(6, sizes[-1]))
    scalar = ScalarMLP(sizes, seed=3)
    Ws, bs = scalar.matrices()
    loss, dW, db = autograd.matrix_mlp_gradients(X, T, Ws, bs)
    # torch.autograd on the same weights
    layers = []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        lin.weight.data, lin.bias.data = torch.tensor(W), torch.tensor(b)
        layers += [lin] + ([torch.nn.Tanh()] if i < len(Ws) - 1 else [])
    net = torch.nn.Sequential(*layers)
    t_loss = ((net(torch.tensor(X)) - torch.tensor(T)) ** 2).mean()
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for ours, lin in zip(dW, linears):
        assert np.allclose(ours, lin.weight.grad.numpy(), rtol=1e-10, atol=1e-13)
    for ours, lin in zip(db, linears):
        assert np.allclose(ours, lin.bias.grad.numpy(), rtol=1e-10, atol=1e-13)
    # and the scalar engine, one Value at a time
    mse = sum(((o - t) ** 2 for x, row in zip(X.tolist(), T.tolist())
               for o, t in zip(scalar(x), row)), Value(0.0)) / T.size
    mse.backward()
    sW, sb = scalar.matrices(grad=True)
    assert all(np.allclose(a, s, rtol=1e-9, atol=1e-12) for a, s in zip(dW + db, sW + sb))


def test_matrix_form_rejects_wrong_shapes():
    X, W, b = np.zeros((4, 3)), np.zeros((5, 3)), np.zeros(5)
    with pytest.raises(ValueError, match="need X"):
        autograd.dense(X, W.T, b)
    with pytest.raises(ValueError, match="delta must have the shape of Y"):
        autograd.dense_backward(X, W, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="targets T must have"):
        autograd.matrix_mlp_gradients(X, np.zeros((4, 2)), [W], [b])
    with pytest.raises(ValueError, match="one bias per weight"):
        autograd.matrix_mlp_gradients(X, np.zeros((4, 5)), [W], [])
