"""The scalar autograd engine: every gradient checked against torch.autograd."""
import math
import random

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
