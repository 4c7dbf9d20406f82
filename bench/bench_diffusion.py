"""Figures stated in the diffusion chapter, and how long each model takes (one CPU thread).

Prints: the closed form at t = 30 and the schedules' signal half-lives (section 1); the ELBO
weights' spread, the 2D network's loss against the ideal predictor's floor (section 2);
modes, share near a mode and JS against the number of DDIM steps, and sampling times
(section 3); the lab's run and the GAN side by side on the ring and the grid (section 4);
judge agreement, confidence, precision and recall against the guidance scale on digits
and the cosine schedule's first reverse step (section 5); the four families' table
(section 6). Timings are printed, never asserted: the machine is shared and noisy.
"""
from __future__ import annotations

import time

import numpy as np
import torch

import dataclasses

from genmech import data, diffusion, diffusion_demos, digits, families, quality


def timed(label, fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    print(f"  {label:<44} wall {time.perf_counter() - start:6.1f} s  cpu {time.process_time() - cpu:6.1f} s")
    return out


def main():
    print(f"torch threads: {torch.get_num_threads()}")
    lin, cos = diffusion.make_schedule("linear", 100), diffusion.make_schedule("cosine", 100)
    ab = lin.alpha_bars[30].item()
    print("\nsection 1: the forward process (T = 100)")
    print(f"  alpha_bar_30 = {ab:.3f}: mean 2 sqrt(ab) = {2 * ab ** 0.5:.2f}, std sqrt(1 - ab) = {(1 - ab) ** 0.5:.2f}")
    for s in (lin, cos):
        half = int((s.alpha_bars.sqrt() < 0.5).nonzero()[0])
        print(f"  {s.name:<7} signal below one half from step {half}; alpha_bar_T = {s.alpha_bars[-1].item():.1e}")

    print("\nsection 2: learning to denoise (ring, 2,000 steps)")
    w = diffusion.elbo_weight(lin)
    print(f"  ELBO weight: largest / smallest = {(w[0] / w.min()).item():.0f}")
    real = data.density("ring", n=4096, seed=0)
    model, _ = timed("train the 2D denoiser, 2,000 steps", lambda: diffusion.train(real, steps=2000))
    ideal = diffusion.mixture_eps(data.mode_centers("ring"), 0.05, lin)
    g, net_l, floor_l = torch.Generator().manual_seed(1), [], []
    for t in range(1, 101):
        x0 = real[torch.randint(len(real), (1000,), generator=g)]
        eps = torch.randn(x0.shape, generator=g)
        x_t = diffusion.q_sample(lin, x0, t, eps)
        net_l.append(((eps - model.eps_fn()(x_t, t)) ** 2).mean().item())
        floor_l.append(((eps - ideal(x_t, t)) ** 2).mean().item())
    print(f"  loss averaged over t: network {np.mean(net_l):.3f}, ideal predictor (floor) {np.mean(floor_l):.3f}")

    print("\nsection 3: quality against sampling steps (1,000 samples; modes, near a mode, JS)")
    res = diffusion_demos.quality_vs_steps({"network": model.eps_fn(), "ideal": ideal}, lin, real)
    for k in res["network"]:
        cells = [f"{r[k]['modes']}/8 {r[k]['near_a_mode']:.0%} {r[k]['js']:.2f}" for r in res.values()]
        print(f"  {('DDIM ' + str(k)) if k != 'DDPM' else 'DDPM 100':<10} network {cells[0]:<16} ideal {cells[1]}")
    x_T = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    timed("DDPM, 100 steps, 1,000 samples", lambda: diffusion.sample(model.eps_fn(), lin, (1000, 2), x_T=x_T))
    timed("DDIM, 10 steps, 1,000 samples",
          lambda: diffusion.sample(model.eps_fn(), lin, (1000, 2), "DDIM", 10, x_T=x_T))

    print("\nsection 4: the lab and the GAN side by side (2,000 updates each)")
    lab = diffusion_demos.DiffusionLab()
    timed("DiffusionLab.record, 1,500 steps, 25 frames", lambda: lab.record(1500, 25))
    print(f"  lab at step 1500: {lab.summary()}")
    for ds in ("ring", "grid"):
        for family, r in diffusion_demos.side_by_side(ds).items():
            print(f"  {ds:<5} {family:<28} modes {r['modes']}/{r['total']}, near {r['near_a_mode']:.0%}, "
                  f"JS {r['js']:.2f}, train {r['train_s']:.1f} s, sample {1000 * r['sample_s']:.1f} ms")

    print("\nsection 5: digits and guidance (500 samples per scale)")
    dm = diffusion_demos.DigitsDiffusion()
    timed("DigitsDiffusion, 3,000 steps", lambda: dm.train(3000))
    _, _, X_test, _ = digits.load()
    real_f = digits.features(X_test)
    labels = torch.arange(10).repeat(50)
    x_T = torch.randn(500, 64, generator=torch.Generator().manual_seed(0))
    for s in (0.0, 1.0, 2.0, 3.0, 5.0):
        images = dm.generate(labels, guidance=s, x_T=x_T, seed=2)
        v = digits.judge(images)
        agree = (torch.as_tensor(v.predictions) == labels).float().mean().item()
        print(f"  scale {s:g}: agreement {agree:.2f}, {v}, {quality.precision_recall(real_f, digits.features(images))}")
    X, y, _, _ = digits.load()
    for steps in (1000, 3000):
        torch.manual_seed(0)
        cos_model = diffusion.Diffusion(X * 2 - 1, dataclasses.replace(dm.cfg, schedule="cosine"), y)
        timed(f"cosine schedule, {steps:,} steps", lambda: [cos_model.step() for _ in range(steps)])
        for name, m in (("linear", dm.model), ("cosine", cos_model)):
            x, states = m.sample(500, y=labels, guidance=2.0, x_T=x_T, generator=torch.Generator().manual_seed(3),
                                 trajectory=True)
            v = digits.judge(diffusion_demos.to_pixels(x))
            agree = (torch.as_tensor(v.predictions) == labels).float().mean().item()
            sch = m.schedule
            gain = (sch.betas[-1] / (sch.alphas[-1] * (1 - sch.alpha_bars[-1])).sqrt()).item()
            print(f"  {name} ({steps:,} steps for cosine), scale 2: agreement {agree:.2f}; spread after the "
                  f"first step {states[1][1].std().item():.2f}; error gain of the first step {gain:.2f}")
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    heart = np.stack([16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)], 1)
    lab = diffusion_demos.DiffusionLab(points=heart)
    js0 = lab.measure()["js"]
    lab.step(1000)
    print(f"  section 4, your points (a heart): JS {js0:.2f} before, {lab.measure()['js']:.2f} after 1,000 steps")

    print("\nsection 6: the four families (500 samples each, against the 360 test digits)")
    result = timed("families.compare()", families.compare)
    for f in result.values():
        sc = f.scores
        nll = "none" if f.nll is None else f"{f.nll_kind} {families.bits_per_pixel(f.nll):.3f} bits/pixel"
        print(f"  {f.name:<15} conf {sc['confidence']:.2f}, classes {sc['classes']}, entropy {sc['entropy']:.2f}, "
              f"precision {sc['precision']:.2f}, recall {sc['recall']:.2f}, Frechet {sc['frechet']:.2f}, "
              f"train {f.train_s:.1f} s, one sample {1000 * f.sample_s:.3f} ms, -log p: {nll}")
    parts = result["diffusion"].nll_parts
    print(f"  diffusion bound, nats per image: prior {parts['prior']:.3f}, steps {parts['steps']:.1f} "
          f"({float(parts['per_step'][:9].sum() / parts['steps']):.0%} from t = 2..10), decoder {parts['decoder']:.1f}")
    ref = families.measure(X[:500], real_f)
    print(f"  real training digits (500): precision {ref['precision']:.2f}, recall {ref['recall']:.2f}, "
          f"Frechet {ref['frechet']:.2f}")


if __name__ == "__main__":
    main()
