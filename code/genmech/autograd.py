"""Backpropagation from scratch: reverse-mode automatic differentiation on scalars.

The section *Backpropagation from scratch* reads this module. A :class:`Value` holds a
number (``data``), the derivative of the final output with respect to it (``grad``) and a
small ``_backward`` closure that applies the chain rule for the one operation that made
it. :meth:`Value.backward` visits the graph in reverse topological order and calls those
closures: that is backpropagation (Rumelhart, Hinton & Williams, 1986), the reverse mode of
automatic differentiation (Baydin et al., 2018). The design follows Karpathy's micrograd.

:class:`ScalarMLP` is a tiny multilayer perceptron built from Values, for comparison with
PyTorch (the book's tensor MLP is :class:`genmech.nets.MLP`). The drawing of the
computation graph, :func:`genmech.autograd_demos.draw_graph`, is in
:mod:`genmech.autograd_demos`.
"""
from __future__ import annotations

import math
import random


class Value:
    """A scalar in a computation graph: its value, its gradient, and how to pass the gradient on."""

    def __init__(self, data, children: tuple = (), op: str = "", label: str = ""):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"a Value holds a plain number, got {type(data).__name__} {data!r}")
        self.data = float(data)
        self.grad = 0.0                 # d(output)/d(self), filled in by backward()
        self._backward = lambda: None   # pushes self.grad onto the children (chain rule)
        self._prev = children           # the Values this one was computed from
        self.op = op                    # the operation that made it, e.g. "*"
        self.label = label              # a name for drawing, e.g. "w1"

    def __repr__(self):
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.4g}, grad={self.grad:.4g})"

    # -- operations: each computes the result and records its local derivatives
    def __add__(self, other):
        other = _lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():                      # d(a+b)/da = 1, d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():                      # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        if isinstance(k, bool) or not isinstance(k, (int, float)):
            raise TypeError(f"the exponent must be a plain number, got {type(k).__name__}")
        if self.data == 0 and k < 1 or self.data < 0 and k != int(k):
            raise ValueError(f"{self.data} ** {k} has no real derivative")
        out = Value(self.data ** k, (self,), f"**{k:g}")

        def _backward():                      # d(a^k)/da = k a^(k-1)
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():                      # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():                      # 1 where a > 0, else 0 (as PyTorch at 0)
            self.grad += (self.data > 0) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        e = math.exp(self.data)
        out = Value(e, (self,), "exp")

        def _backward():                      # d e^a/da = e^a
            self.grad += e * out.grad
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():                      # d log(a)/da = 1/a
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    # -- the rest follow from the above
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-_lift(other))

    def __truediv__(self, other):
        return self * _lift(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return _lift(other) - self

    def __rtruediv__(self, other):
        return _lift(other) / self

    # -- backpropagation
    def backward(self) -> None:
        """Fill in ``grad`` of every Value this one depends on: d(self)/d(node).

        Nodes are visited in reverse topological order, so that when a node passes its
        gradient on, every path from the output to it has already been added up."""
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0                       # d(self)/d(self)
        for node in reversed(order):
            node._backward()


def _lift(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def topological_order(root: Value) -> list[Value]:
    """Every Value that ``root`` depends on, each after all of its children (iterative DFS)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in seen)
    return order


# --------------------------------------------------------------------------- a tiny MLP of Values
class ScalarMLP:
    """A multilayer perceptron of Values: ``tanh`` hidden layers, a linear output layer.

    ``weights[l][j][i]`` multiplies input ``i`` of neuron ``j`` in layer ``l``; ``biases[l][j]``
    is added. Initialised uniformly in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` as PyTorch does."""

    def __init__(self, sizes: list[int], seed: int = 0):
        if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"sizes must be two or more positive ints, got {sizes!r}")
        rng = random.Random(seed)
        self.sizes = list(sizes)
        self.weights, self.biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = fan_in ** -0.5
            self.weights.append([[Value(rng.uniform(-bound, bound)) for _ in range(fan_in)]
                                 for _ in range(fan_out)])
            self.biases.append([Value(rng.uniform(-bound, bound)) for _ in range(fan_out)])

    def __call__(self, x: list) -> list[Value]:
        if len(x) != self.sizes[0]:
            raise ValueError(f"expected {self.sizes[0]} inputs, got {len(x)}")
        for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
            x = [sum((w_i * x_i for w_i, x_i in zip(w, x)), b_j) for w, b_j in zip(W, b)]
            if layer < len(self.weights) - 1:
                x = [v.tanh() for v in x]
        return x

    def parameters(self) -> list[Value]:
        return [w for W, b in zip(self.weights, self.biases) for p in (W, [b]) for row in p
                for w in row]

