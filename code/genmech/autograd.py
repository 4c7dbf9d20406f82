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

The last part does the same backward pass one matrix at a time, as tensor libraries do: a
dense layer ``Y = X W^T + b`` on a batch (:func:`dense`), its backward pass
``dL/dW = delta^T X``, ``dL/db = sum of the rows of delta``, ``dL/dX = delta W``
(:func:`dense_backward`), the element-wise step through ``tanh`` (:func:`tanh_backward`),
and a whole tanh network's gradients by these three (:func:`matrix_mlp_gradients`).
"""
from __future__ import annotations

import math
import random

import numpy as np


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

    def matrices(self, grad: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The same numbers as matrices: per layer ``W`` (n_out, n_in) and ``b`` (n_out,);
        with ``grad=True`` their gradients instead of their values."""
        key = "grad" if grad else "data"
        return ([np.array([[getattr(w, key) for w in row] for row in W]) for W in self.weights],
                [np.array([getattr(v, key) for v in b]) for b in self.biases])

    def parameters(self) -> list[Value]:
        return [w for W, b in zip(self.weights, self.biases) for p in (W, [b]) for row in p
                for w in row]



# --------------------------------------------------------------------------- matrix form
# Shapes: a batch of B inputs is X (B, n_in), one example per row; a layer's weights are
# W (n_out, n_in), as in torch.nn.Linear; its output Y is (B, n_out). delta = dL/dY has
# the shape of Y, and every gradient has the shape of the thing it is the gradient of.
def dense(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``y = W x + b`` for every row ``x`` of ``X``: ``Y = X W^T + b``, (B, n_in) -> (B, n_out)."""
    if X.ndim != 2 or W.ndim != 2 or X.shape[1] != W.shape[1] or b.shape != (W.shape[0],):
        raise ValueError(f"need X (B, n_in), W (n_out, n_in), b (n_out,); "
                         f"got X {X.shape}, W {W.shape}, b {b.shape}")
    return X @ W.T + b


def dense_backward(X: np.ndarray, W: np.ndarray, delta: np.ndarray):
    """The backward pass of :func:`dense`: from ``delta = dL/dY`` (B, n_out), the gradients
    ``(dL/dW, dL/db, dL/dX)`` = ``(delta^T X, delta summed over rows, delta W)``, of shapes
    (n_out, n_in), (n_out,) and (B, n_in)."""
    if delta.shape != (X.shape[0], W.shape[0]):
        raise ValueError(f"delta must have the shape of Y, {(X.shape[0], W.shape[0])}, "
                         f"got {delta.shape}")
    return delta.T @ X, delta.sum(axis=0), delta @ W


def tanh_backward(H: np.ndarray, grad_H: np.ndarray) -> np.ndarray:
    """Through ``H = tanh(Z)``, element by element: ``dL/dZ = dL/dH * (1 - H^2)``."""
    return grad_H * (1 - H**2)


def matrix_mlp_gradients(X: np.ndarray, T: np.ndarray, weights: list, biases: list):
    """The mean squared error of a tanh network (linear last layer) against targets ``T``,
    and its gradients ``(loss, dW, db)``, one entry per layer: forward, then backward with
    :func:`dense_backward` and :func:`tanh_backward`, from the last layer to the first."""
    if len(weights) != len(biases) or not weights:
        raise ValueError("give one bias per weight matrix, and at least one layer")
    H, inputs = X, []
    for layer, (W, b) in enumerate(zip(weights, biases)):
        inputs.append(H)                                 # the layer's input, kept for backward
        H = dense(H, W, b)
        if layer < len(weights) - 1:
            H = np.tanh(H)
    if H.shape != T.shape:
        raise ValueError(f"targets T must have the network's output shape {H.shape}, got {T.shape}")
    loss = float(((H - T) ** 2).mean())
    delta = 2 * (H - T) / H.size                        # dL/d(output) of the mean squared error
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        dW[layer], db[layer], grad_in = dense_backward(inputs[layer], weights[layer], delta)
        if layer > 0:                                    # through the tanh that made the input
            delta = tanh_backward(inputs[layer], grad_in)
    return loss, dW, db
