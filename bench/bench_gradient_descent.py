"""Figures of the gradient-descent chapter, measured (run by `make bench`; nothing asserted).

1. The optimizer race: steps until each optimizer's loss falls below 1e-3, per surface,
   with optim.RACE_SETTINGS (the table of section 5), and race steps per second.
2. Backpropagation: our scalar engine (genmech.autograd) against its matrix form
   (autograd.matrix_mlp_gradients, NumPy) and torch.autograd, forward and backward of the
   same MLP on the same batch (section 6).
3. SGD against Adam on a network (section 7): loss and accuracy after 300 steps on each
   dataset, and the wall time of a step.
4. Schedules, clipping and weight decay (section 8): Adam at peak rate 0.3 with and without
   warm-up and cosine decay (highest and worst final loss over 5 seeds, mean test accuracy);
   GD on Rosenbrock at lr 5e-3 with and without clipping; Adam, Adam + L2 and AdamW
   (lambda = 0.1): weight length, loss, accuracy, and how much harder L2 in Adam pulls.

Timings depend on the machine and on whatever else runs on it: read them as rough.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from genmech import autograd, optim, optim_demos


def race() -> None:
    print("optimizer race: first step with loss < 1e-3 (max 2000 steps; '-': not reached)")
    start = time.perf_counter()
    table = optim_demos.race_table(max_steps=2000, target=1e-3)
    seconds = time.perf_counter() - start
    print(f"  {'surface':<12}" + "".join(f"{r:>10}" for r in optim_demos.RULES))
    for surface, arrived in table.items():
        cells = "".join(f"{(str(v) if v is not None else '-'):>10}" for v in arrived.values())
        print(f"  {surface:<12}{cells}")
    print(f"  race_table took {seconds:.1f} s")
    r = optim_demos.OptimizerRace(surface="valley")
    start = time.perf_counter()
    r.step(500)
    print(f"  race steps per second (4 optimizers each): {500 / (time.perf_counter() - start):.0f}")


def backprop(batch: int = 32, sizes=(2, 16, 16, 1)) -> None:
    print(f"\nbackprop: forward + backward of an MLP {list(sizes)} on a batch of {batch}")
    net = autograd.ScalarMLP(list(sizes), seed=0)
    pts = np.random.default_rng(0).uniform(-1, 1, (batch, sizes[0])).tolist()
    start = time.perf_counter()
    loss = sum((net(p)[0] ** 2 for p in pts), autograd.Value(0.0)) / batch
    loss.backward()
    ours = time.perf_counter() - start
    nodes = len(autograd.topological_order(loss))
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.Tanh()] if i < len(sizes) - 2 else [])
    model = torch.nn.Sequential(*layers)
    x = torch.tensor(pts)
    reps = 200
    start = time.perf_counter()
    for _ in range(reps):
        model.zero_grad()
        (model(x) ** 2).mean().backward()
    theirs = (time.perf_counter() - start) / reps
    Ws, bs = net.matrices()
    X, T = np.array(pts), np.zeros((batch, sizes[-1]))
    start = time.perf_counter()
    for _ in range(200):
        autograd.matrix_mlp_gradients(X, T, Ws, bs)
    matrix = (time.perf_counter() - start) / 200
    print(f"  genmech.autograd: {1e3 * ours:8.1f} ms  ({nodes} Values in the graph)")
    print(f"  matrix form:      {1e3 * matrix:8.2f} ms  -> {ours / matrix:.0f}x faster than the scalar engine")
    print(f"  torch.autograd:   {1e3 * theirs:8.2f} ms  -> torch is {ours / theirs:.0f}x faster")


def sgd_vs_adam(steps: int = 300) -> None:
    print(f"\nSGD vs Adam: {steps} steps, batch 32, SGD lr 0.1, Adam lr 0.01")
    print(f"  {'dataset':<10}{'SGD loss':>10}{'SGD acc':>9}{'Adam loss':>11}{'Adam acc':>10}{'ms/step':>9}")
    for name in ("moons", "circles", "xor", "spirals"):
        demo = optim_demos.SGDvsAdam(dataset=name)
        start = time.perf_counter()
        m = demo.step(steps)
        ms = 1e3 * (time.perf_counter() - start) / steps
        print(f"  {name:<10}{m['SGD loss']:>10.4f}{m['SGD accuracy']:>9.1%}"
              f"{m['Adam loss']:>11.4f}{m['Adam accuracy']:>10.1%}{ms:>9.2f}")
    demo = optim_demos.SGDvsAdam()
    start = time.perf_counter()
    demo.record(steps, frames=20)
    print(f"  recording {steps} steps with 20 frames: {time.perf_counter() - start:.1f} s")


def schedules_clipping_decay() -> None:
    print("\nwarm-up and cosine decay: Adam, peak lr 0.3, 300 steps, 5 seeds")
    print(f"  {'schedule':<18}{'highest loss':>13}{'worst final':>13}{'mean acc':>10}")
    schedules = {"constant": dict(warmup=0, final_lr=None), "cosine": dict(warmup=0, final_lr=0.0),
                 "warm-up": dict(warmup=50, final_lr=None),
                 "warm-up + cosine": dict(warmup=50, final_lr=0.0)}
    start = time.perf_counter()
    for name, kw in schedules.items():
        runs = [optim_demos.train_network(lr=0.3, steps=300, seed=s, **kw) for s in range(5)]
        print(f"  {name:<18}{max(max(r['loss']) for r in runs):>13.2f}"
              f"{max(r['loss'][-1] for r in runs):>13.4f}"
              f"{np.mean([r['accuracy'] for r in runs]):>10.1%}")
    print(f"  20 runs took {time.perf_counter() - start:.1f} s")
    banana = optim.SURFACES["rosenbrock"]
    with np.errstate(over="ignore", invalid="ignore"):
        plain = optim.descend(banana, optim.GD(5e-3), banana.start, 2000)
    clipped = optim.descend(banana, optim.GD(5e-3), banana.start, 2000, max_norm=1.0)
    bad = np.flatnonzero(~np.isfinite(plain).all(axis=1))
    norms = np.linalg.norm(banana.gradient(clipped[:-1]), axis=1)
    print("\nclipping: GD on Rosenbrock, lr 5e-3, 2000 steps")
    print(f"  unclipped: first non-finite step {bad[0] if len(bad) else '-'}; start gradient length {norms[0]:.0f}")
    print(f"  clipped at c = 1: final loss {float(banana(torch.as_tensor(clipped[-1]))):.4f}, "
          f"gradient longer than c on {np.mean(norms > 1):.0%} of steps")
    print("\nweight decay: Adam lr 0.01, 600 steps, lambda = 0.1")
    runs = {"no decay": optim_demos.train_network(lr=0.01, steps=600),
            "Adam + L2": optim_demos.train_network(lr=0.01, steps=600, weight_decay=0.1, decoupled=False),
            "AdamW": optim_demos.train_network(lr=0.01, steps=600, weight_decay=0.1)}
    for name, r in runs.items():
        print(f"  {name:<10} |w| {r['weight_norm'][0]:5.1f} -> {r['weight_norm'][-1]:5.1f}, "
              f"loss {r['loss'][-1]:.4f}, test accuracy {r['accuracy']:.1%}")
    ratios = optim_demos.effective_decay(runs["Adam + L2"]["opt"]) / (0.01 * 0.1)
    p10, p50, p90 = np.percentile(ratios, [10, 50, 90])
    print(f"  L2 in Adam pulls 1/(sqrt(s_hat)+eps) times harder than AdamW: 10% {p10:.0f}, "
          f"median {p50:.0f}, 90% {p90:.0f}, max/min {ratios.max() / ratios.min():.0f}")


if __name__ == "__main__":
    race()
    backprop()
    sgd_vs_adam()
    schedules_clipping_decay()
