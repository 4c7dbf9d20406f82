"""Figures of the chapter *Neural networks and deep learning*, measured (run by `make bench`).

Prints: the playground's time to 95 % test accuracy on spirals (steps and seconds) and its
training speed; the universal-approximation width-vs-error table; the deep-vs-wide table at
equal parameter budget; the overfitting and regularization numbers; training in one page (gradient descent
against Adam); the building blocks (softmax regression, activation and gradient scale per
layer under three initialisations, deep-net losses with and without normalisation) and
the convolutions (CNN against MLPs: parameters, test and shifted accuracy). Timings are printed,
never asserted: the machine may be shared.
"""
from __future__ import annotations

import time

import numpy as np

import torch

from genmech import blocks, digits, nets, nn as gnn, nn_demos as gnn_demos


def playground() -> None:
    demo = gnn_demos.Playground()
    start, reached = time.perf_counter(), None
    for step in range(1, gnn_demos.DEFAULT_STEPS + 1):
        demo.step(1)
        if reached is None and demo.metrics.last["test accuracy"] >= 0.95:
            reached = (step, time.perf_counter() - start)
    total = time.perf_counter() - start
    print("playground, default run (spirals, 2 x 16 tanh, Adam 0.03, full batch):")
    print(f"  test accuracy after {demo.steps} steps: {100 * demo.metrics.last['test accuracy']:.1f} %")
    if reached:
        print(f"  time to 95 % test accuracy: step {reached[0]}, {reached[1]:.2f} s")
    else:
        print("  time to 95 % test accuracy: NOT REACHED")
    print(f"  training speed: {demo.steps / total:.0f} steps/s (including test evaluation)")
    start = time.perf_counter()
    for _ in range(20):
        demo.frame()
    print(f"  one animation frame: {1000 * (time.perf_counter() - start) / 20:.1f} ms")


def widths() -> None:
    ws = [1, 2, 4, 8, 16, 32, 64]
    f = gnn.target("wiggle")
    start = time.perf_counter()
    fits = gnn.fit_widths(ws, "wiggle", steps=2000, lr=0.01)
    seconds = time.perf_counter() - start
    print(f"\nuniversal approximation, sin 3x + 0.3 x^2 on [-2, 2] ({seconds:.1f} s for all widths):")
    print(f"  {'width':>5}  {'trained RMS error':>17}  {'hand-built RMS error':>20}")
    for w, (_, err) in zip(ws, fits):
        built = gnn.rms_error(gnn.relu_interpolant(f, np.linspace(-2, 2, w + 1)), f)
        print(f"  {w:>5}  {err:>17.4f}  {built:>20.4f}")


def depth() -> None:
    data = gnn.spiral_task(turns=3)
    print("\ndeep vs wide, ~1000 parameters, 3-turn spirals, 500 Adam steps (seeds 0 and 1):")
    print(f"  {'layers':>6}  {'width':>5}  {'params':>6}  {'test accuracy':>15}  {'seconds':>7}")
    for d in (1, 2, 3, 4):
        w = gnn.equal_budget_width(d, 1000)
        start = time.perf_counter()
        rs = [gnn.train_classifier((2,) + (w,) * d + (1,), data, steps=500, seed=s) for s in (0, 1)]
        secs = time.perf_counter() - start
        accs = " ".join(f"{100 * r['test accuracy']:.1f}" for r in rs)
        print(f"  {d:>6}  {w:>5}  {rs[0]['parameters']:>6}  {accs:>15}  {secs:>7.1f}")


def generalization() -> None:
    x, y = gnn.noisy_sine(20, seed=1)
    xt, yt = gnn.noisy_sine(300, seed=2)
    xv, yv = gnn.noisy_sine(100, seed=3)
    data = (x, y, xt, yt, xv, yv)
    print("\ngeneralization, 20 noisy points, 1-64-64-1 ReLU, 1000 Adam steps (noise floor 0.09):")
    plain = gnn.train_regression(data)
    stop = int(plain["val"].argmin())
    rows = {"none": plain, "weight decay 0.01": gnn.train_regression(data, weight_decay=1e-2),
            "dropout 0.3": gnn.train_regression(data, dropout=0.3)}
    print(f"  {'regularization':>22}  {'train':>6}  {'test':>6}")
    for name, r in rows.items():
        print(f"  {name:>22}  {r['train'][-1]:>6.3f}  {r['test'][-1]:>6.3f}")
    print(f"  {'early stopping @' + str(stop + 1):>22}  {plain['train'][stop]:>6.3f}  {plain['test'][stop]:>6.3f}")
    print(f"  lowest test loss of the plain run: {plain['test'].min():.3f} at step {plain['test'].argmin() + 1}")


def training_preview() -> None:
    x = gnn.grid_1d(256)
    y = torch.as_tensor(gnn.target("wiggle")(x.numpy()), dtype=torch.float32)
    torch.manual_seed(0)
    gd = gnn.gradient_descent(gnn.one_hidden_layer(8), x, y, steps=1000, lr=0.05)
    torch.manual_seed(0)
    model = gnn.one_hidden_layer(8)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(1000):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"\ntraining in one page, width 8, 1000 steps: loss {gd[0]:.3f} -> gradient descent {gd[-1]:.4f}, "
          f"Adam {loss.item():.4f}")


def building_blocks() -> None:
    start = time.perf_counter()
    r = blocks.softmax_regression(300, 1.0)
    print(f"\nsoftmax regression, 300 steps of the derived gradient: loss {r['loss'][0]:.3f} -> "
          f"{r['loss'][-1]:.3f}, test accuracy {100 * r['test accuracy']:.1f} % ({time.perf_counter() - start:.1f} s)")
    batch = digits.load()[0][:256]
    print("std per layer, 20 x 256 MLP on 256 digits (layers 1, 5, 10, 15, 20): activations | gradients")
    for act in ("tanh", "relu"):
        for init in blocks.INITS:
            torch.manual_seed(0)
            f, b = blocks.layer_scales(blocks.DeepMLP(20, 256, act, init), batch)
            pick = lambda v: " ".join(f"{v[i]:.2e}" for i in (0, 4, 9, 14, 19))   # noqa: E731
            print(f"  {act:>4} {init:>6}: {pick(f)} | {pick(b)}")
    print("20 x 64 ReLU MLP, Xavier, 400 steps, batch 64: final loss (mean of last 50), test accuracy, seconds")
    for opt, lr in (("sgd", 0.05), ("adam", 1e-3)):
        for norm in blocks.NORMS:
            torch.manual_seed(0)
            start = time.perf_counter()
            r = blocks.fit_digits(blocks.DeepMLP(20, 64, "relu", "xavier", norm=norm), steps=400, lr=lr, optimizer=opt)
            print(f"  {opt:>4} {norm:>5}: {float(r['loss'][-50:].mean()):.3f}  {100 * r['test accuracy']:.1f} %  "
                  f"{time.perf_counter() - start:.1f} s")


def convolutions() -> None:
    _, _, Xt, yt = digits.load()
    print("\nconvolutions: 800 Adam steps (lr 0.003, batch 64), seed 0")
    print(f"  first layer 1 -> 8 maps of 8 x 8: conv {blocks.conv_parameters(1, 8, 3)} parameters, "
          f"dense {blocks.dense_parameters(1, 8, 8, 8):,}")
    for name, make in (("CNN", blocks.DigitsCNN), ("MLP 64-26-10", lambda: nets.mlp([64, 26, 10])),
                       ("MLP 64-128-10", lambda: nets.mlp([64, 128, 10]))):
        torch.manual_seed(0)
        model = make()
        start = time.perf_counter()
        r = blocks.fit_digits(model, steps=800, lr=3e-3)
        with torch.no_grad():
            shifted = float((model(blocks.shift_right(Xt, 1)).argmax(1) == yt).float().mean())
        print(f"  {name:>13}: {r['parameters']:>5} parameters, test {100 * r['test accuracy']:.1f} %, "
              f"shifted 1 px {100 * shifted:.1f} %, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    playground()
    widths()
    depth()
    generalization()
    training_preview()
    building_blocks()
    convolutions()
