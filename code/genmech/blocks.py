"""Building blocks of deep networks, written out so the code reads like the page's equations.

The sections *Building blocks* and *Convolutions* of the chapter *Neural networks and deep
learning* read this module:

* **Softmax and cross-entropy** for ``K`` classes: :func:`softmax`,
  :func:`softmax_cross_entropy` and its derived gradient :func:`softmax_cross_entropy_gradient`,
  ``(p - e_y) / N``, ``e_y`` the one-hot vector of the label (Bridle, 1990);
  :func:`softmax_regression` trains a linear classifier of the digits with that gradient alone.
* **Weight initialisation**: :func:`init_std` gives the standard deviation of Xavier/Glorot
  (Glorot & Bengio, 2010), He (He et al., 2015) and a fixed "small" one;
  :class:`DeepMLP` is a plain deep MLP initialised that way, and :func:`layer_scales`
  measures the spread of activations and gradients through it.
* **Normalisation**: :func:`batch_norm` (Ioffe & Szegedy, 2015) and :func:`layer_norm`
  (Ba, Kiros & Hinton, 2016), the training-mode formulas, checked against PyTorch's layers in
  ``code/tests/test_blocks.py``; :class:`DeepMLP` can put either before every activation.
* **Convolution** (LeCun et al., 1989): :func:`conv2d`, one small filter slid over the image;
  :func:`conv_parameters` and :func:`dense_parameters` count what a layer learns;
  :class:`DigitsCNN` is a small convolutional network for the 8 x 8 digits, and
  :func:`shift_right` moves digits sideways to test what weight sharing buys.

:func:`fit_digits` trains any of these on :func:`genmech.digits.load`. Torch and numpy only.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import digits

# =========================================================================== softmax and cross-entropy


def softmax(z: torch.Tensor) -> torch.Tensor:
    """``p_k = exp(z_k) / sum_j exp(z_j)`` over the last dimension.

    Subtracting ``max_j z_j`` first changes nothing (it cancels between numerator and
    denominator) and keeps ``exp`` from overflowing.
    """
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def _check_labels(logits: torch.Tensor, y: torch.Tensor) -> None:
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, K), got {tuple(logits.shape)}")
    if y.shape != (logits.shape[0],) or y.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be N = {logits.shape[0]} integers, got shape {tuple(y.shape)}, {y.dtype}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= logits.shape[1]):
        raise ValueError(f"labels must lie in 0..{logits.shape[1] - 1}")


def softmax_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``L = -(1/N) sum_i log p_{y_i}(x_i)`` with ``p = softmax(logits)``; logits (N, K), y (N,).

    ``log p_y = z_y - log sum_j exp z_j`` (the log-sum-exp taken after subtracting the max).
    """
    _check_labels(logits, y)
    m = logits.max(dim=1, keepdim=True).values                            # (N, 1)
    log_normaliser = m[:, 0] + torch.log(torch.exp(logits - m).sum(dim=1))  # (N,)
    return (log_normaliser - logits[torch.arange(len(y)), y]).mean()


def softmax_cross_entropy_gradient(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The derived gradient ``dL/dz = (p - e_y) / N`` (``e_y = onehot(y)``), shape (N, K)."""
    _check_labels(logits, y)
    onehot = nn.functional.one_hot(y.long(), logits.shape[1]).to(logits.dtype)
    return (softmax(logits) - onehot) / logits.shape[0]


def softmax_regression(steps: int = 300, lr: float = 1.0) -> dict:
    """A linear classifier of the digits, ``z = W x + b``, trained by gradient descent with the
    *derived* gradient and no autograd: ``dL/dz = (p - e_y) / N``, so ``dL/dW = (dL/dz)^T X`` and
    ``dL/db = sum_i dL/dz_i``. Returns ``{"loss": per-step loss, "test accuracy", "W", "b"}``."""
    if steps < 1 or lr <= 0:
        raise ValueError(f"need steps >= 1 and lr > 0, got {steps}, {lr}")
    X, y, Xt, yt = digits.load()
    W, b = torch.zeros(10, digits.PIXELS), torch.zeros(10)
    losses = []
    for _ in range(steps):
        z = X @ W.T + b                                  # (N, 10)
        losses.append(float(softmax_cross_entropy(z, y)))
        dz = softmax_cross_entropy_gradient(z, y)        # (N, 10)
        W -= lr * dz.T @ X                               # (10, 64)
        b -= lr * dz.sum(dim=0)
    acc = float(((Xt @ W.T + b).argmax(1) == yt).float().mean())
    return {"loss": torch.tensor(losses), "test accuracy": acc, "W": W, "b": b}


# =========================================================================== initialisation
INITS = ("small", "xavier", "he")
SMALL_STD = 0.01          # a fixed standard deviation, blind to the layer's width


def init_std(scheme: str, fan_in: int, fan_out: int) -> float:
    """The weight standard deviation of an initialisation scheme for a layer ``fan_in -> fan_out``.

    * ``"small"``: a fixed 0.01, whatever the width;
    * ``"xavier"`` (Glorot & Bengio, 2010): ``Var(w) = 2 / (fan_in + fan_out)``, the compromise
      between keeping activations (``1 / fan_in``) and gradients (``1 / fan_out``) at scale;
    * ``"he"`` (He et al., 2015): ``Var(w) = 2 / fan_in``, twice ``1 / fan_in`` because ReLU
      zeroes half of its inputs.
    """
    if scheme not in INITS:
        raise ValueError(f"unknown initialisation {scheme!r}; choose one of {', '.join(INITS)}")
    if fan_in < 1 or fan_out < 1:
        raise ValueError(f"fan_in and fan_out must be positive, got {fan_in}, {fan_out}")
    if scheme == "small":
        return SMALL_STD
    if scheme == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    return math.sqrt(2.0 / fan_in)


NORMS = ("none", "batch", "layer")
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class DeepMLP(nn.Module):
    """``depth`` hidden layers ``h_l = rho(norm(W_l h_{l-1} + b_l))`` of equal ``width``, then a
    linear output; weights drawn from N(0, init_std^2), biases zero.

    ``norm`` is ``"none"``, ``"batch"`` (``nn.BatchNorm1d``) or ``"layer"`` (``nn.LayerNorm``),
    placed before every activation as Ioffe & Szegedy did.
    """

    def __init__(self, depth: int = 20, width: int = 256, activation: str = "relu", init: str = "he",
                 n_in: int = 64, n_out: int = 10, norm: str = "none"):
        super().__init__()
        if not isinstance(depth, int) or depth < 1 or not isinstance(width, int) or width < 1:
            raise ValueError(f"depth and width must be positive ints, got {depth!r}, {width!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if norm not in NORMS:
            raise ValueError(f"unknown normalisation {norm!r}; choose one of {', '.join(NORMS)}")
        sizes = [n_in] + [width] * depth + [n_out]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        layer = {"none": lambda n: nn.Identity(), "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}[norm]
        self.norms = nn.ModuleList(layer(width) for _ in range(depth))
        self.rho = ACTIVATIONS[activation]()
        with torch.no_grad():
            for lin in self.linears:
                lin.weight.normal_(0.0, init_std(init, lin.in_features, lin.out_features))
                lin.bias.zero_()

    def forward_with_states(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """``(output, [z_1..z_L], [h_1..h_L])``: pre-activations and activations of every hidden layer."""
        zs, hs, h = [], [], x
        for lin, norm in zip(self.linears[:-1], self.norms):
            z = norm(lin(h))                       # (N, width)
            h = self.rho(z)
            zs.append(z)
            hs.append(h)
        return self.linears[-1](h), zs, hs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_states(x)[0]


def layer_scales(model: DeepMLP, x: torch.Tensor, seed: int = 0) -> tuple[list[float], list[float]]:
    """Standard deviation, per hidden layer, of the activations ``h_l`` (forward) and of the
    gradients ``dL/dz_l`` (backward) for one batch ``x``.

    The backward signal starts as a standard normal gradient at the output (what a loss
    sends back, without committing to one), so both passes start at scale 1.
    """
    out, zs, hs = model.forward_with_states(x)
    for z in zs:
        z.retain_grad()
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    out.backward(g)
    return [float(h.detach().std()) for h in hs], [float(z.grad.std()) for z in zs]


# =========================================================================== normalisation
def batch_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Training-mode batch normalisation of ``x`` (N, D): each feature over the batch.

    ``mu_j = mean_i x_ij``, ``s2_j = mean_i (x_ij - mu_j)^2``,
    ``y_ij = gamma_j (x_ij - mu_j) / sqrt(s2_j + eps) + beta_j``.
    """
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"batch norm needs a batch of at least 2 rows (N, D), got shape {tuple(x.shape)}")
    mu = x.mean(dim=0)                                   # (D,)
    var = ((x - mu) ** 2).mean(dim=0)                    # (D,) the biased variance
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta


def layer_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Layer normalisation of ``x`` (N, D): each example over its own D features.

    ``mu_i = mean_j x_ij``, ``s2_i = mean_j (x_ij - mu_i)^2``,
    ``y_ij = gamma_j (x_ij - mu_i) / sqrt(s2_i + eps) + beta_j``.
    """
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"layer norm needs at least 2 features per row (N, D), got shape {tuple(x.shape)}")
    mu = x.mean(dim=1, keepdim=True)                     # (N, 1)
    var = ((x - mu) ** 2).mean(dim=1, keepdim=True)      # (N, 1)
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta


# =========================================================================== convolution
def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           padding: int = 0) -> torch.Tensor:
    """``y[n, d, i, j] = b_d + sum_{c, u, v} K[d, c, u, v] x[n, c, i + u, j + v]``.

    ``x`` (N, C, H, W), ``weight`` K (D, C, k, k); ``padding`` zeros around the image. The
    same small filter is applied at every position (i, j): one loop over positions.
    """
    if x.ndim != 4 or weight.ndim != 4 or weight.shape[1] != x.shape[1] or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"need x (N, C, H, W) and weight (D, C, k, k) with the same C; got "
                         f"{tuple(x.shape)} and {tuple(weight.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    x = nn.functional.pad(x, (padding,) * 4)
    k = weight.shape[2]
    H, W = x.shape[2] - k + 1, x.shape[3] - k + 1
    if H < 1 or W < 1:
        raise ValueError(f"a {k} x {k} filter does not fit in a {x.shape[2]} x {x.shape[3]} (padded) image")
    y = x.new_zeros(x.shape[0], weight.shape[0], H, W)
    for i in range(H):
        for j in range(W):
            patch = x[:, :, i:i + k, j:j + k]                           # (N, C, k, k)
            y[:, :, i, j] = torch.einsum("ncuv,dcuv->nd", patch, weight)
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y


def conv_parameters(c_in: int, c_out: int, k: int) -> int:
    """A convolution's learned numbers: ``c_out`` filters of ``c_in * k * k`` weights, one bias each."""
    return c_out * (c_in * k * k + 1)


def dense_parameters(c_in: int, c_out: int, height: int, width: int) -> int:
    """A dense layer mapping the same (c_in, H, W) input to the same (c_out, H, W) output."""
    return (c_in * height * width + 1) * c_out * height * width


def shift_right(images: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    """Digits (N, 64) moved ``pixels`` columns to the right, the left columns filled with 0."""
    if not 0 <= pixels < digits.SIDE:
        raise ValueError(f"pixels must be in 0..{digits.SIDE - 1}, got {pixels}")
    im = images.reshape(-1, digits.SIDE, digits.SIDE)
    out = torch.zeros_like(im)
    out[:, :, pixels:] = im[:, :, :digits.SIDE - pixels]
    return out.reshape(-1, digits.PIXELS)


class DigitsCNN(nn.Module):
    """A small convolutional network for 8 x 8 digits: two blocks of 3 x 3 convolution, ReLU
    and 2 x 2 max pooling (8 x 8 -> 4 x 4 -> 2 x 2), then a linear layer to 10 class scores."""

    def __init__(self, channels: tuple[int, int] = (8, 16)):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # (N, c1, 4, 4)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))    # (N, c2, 2, 2)
        self.head = nn.Linear(c2 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:      # (N, 64) -> (N, 10)
        h = self.features(x.reshape(-1, 1, digits.SIDE, digits.SIDE))
        return self.head(h.flatten(1))


# =========================================================================== training on the digits
def fit_digits(model: nn.Module, steps: int = 600, lr: float = 3e-3, optimizer: str = "adam",
               batch_size: int = 64, seed: int = 0) -> dict:
    """Train ``model`` (64 pixels -> 10 scores) on the training digits with the softmax
    cross-entropy; returns ``{"loss": per-step training loss, "test accuracy", "parameters"}``.

    ``optimizer`` is ``"adam"`` or ``"sgd"`` (plain gradient descent); mini-batches are drawn
    from a generator seeded with ``seed``.
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    X, y, Xt, yt = digits.load()
    gen = torch.Generator().manual_seed(seed)
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        batch = torch.randint(len(X), (batch_size,), generator=gen)
        loss = softmax_cross_entropy(model(X[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        acc = float((model(Xt).argmax(1) == yt).float().mean())
    return {"loss": torch.tensor(losses), "test accuracy": acc,
            "parameters": sum(p.numel() for p in model.parameters())}
