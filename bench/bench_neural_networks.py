"""Figures of the chapter *Neural networks and deep learning*, measured (run by `make bench`).

Prints: the playground's time to 95 % test accuracy on spirals (steps and seconds) and its
training speed; the universal-approximation width-vs-error table; the deep-vs-wide table at
equal parameter budget; the overfitting and regularization numbers. Timings are printed,
never asserted: the machine may be shared.
"""
from __future__ import annotations

import time

import numpy as np

from genmech import nn as gnn, nn_demos as gnn_demos


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


if __name__ == "__main__":
    playground()
    widths()
    depth()
    generalization()
