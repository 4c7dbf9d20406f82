"""Figures stated in sections 2 (adversarial attacks) and 3 (explainability) of the
challenges chapter, and how long their pieces take.

Prints: the judge's accuracy under FGSM and PGD against eps; the linear prediction of FGSM's
loss increase against the measured one; the judge's confidence on noise and on fooling
images; clean and robust accuracy after adversarial training at four radii; the VAE latent
attack's success rate; the completeness gap of integrated gradients against the number of
points; the share of attribution on black pixels for each baseline; the randomization
sanity check; the VAE's active latent dimensions. Timings are printed, never asserted.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from genmech import attacks, digits, explain, vae
from genmech import robustness_demos as rd


def timed(label, fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    print(f"  [{label}: wall {time.perf_counter() - start:.1f} s, cpu {time.process_time() - cpu:.1f} s]")
    return out


def section2(judge, X_train, X_test, y_test):
    print("\n== section 2: adversarial attacks and robustness")
    print(f"clean accuracy {attacks.accuracy_under_attack(judge, X_test, y_test, 0.0):.3f}")
    epsilons = np.round(np.arange(0, 0.3001, 0.025), 3)
    curves = timed("accuracy curve, 13 eps x 2 attacks", lambda: attacks.accuracy_curve(judge, X_test, y_test, epsilons))
    print(f"  {'eps':>6}{'FGSM':>8}{'PGD':>8}")
    for i, e in enumerate(epsilons):
        print(f"  {e:>6}{curves['FGSM'][i]:>8.3f}{curves['PGD'][i]:>8.3f}")
    g = attacks.loss_gradient(judge, X_test, y_test)
    loss = lambda x: F.cross_entropy(judge(x), y_test, reduction="none").detach()   # noqa: E731
    print("FGSM loss increase, predicted (g . delta) / measured")
    for e in (0.005, 0.01, 0.02, 0.05):
        xa = attacks.fgsm(judge, X_test, y_test, e)
        print(f"  eps {e}: {float((g * (xa - X_test)).sum(1).mean()):.4f} / {float((loss(xa) - loss(X_test)).mean()):.4f}")
    xp = attacks.pgd(judge, X_test, y_test, 0.1)
    pred, conf = attacks.predict(judge, xp)
    print(f"PGD 0.1: pixels moved by the full eps {float(((xp - X_test).abs() > 0.099).float().mean()):.3f}; "
          f"mean confidence on fooled digits {float(conf[pred != y_test].mean()):.3f}")
    ex = rd.EpsilonExplorer(digit=49, eps=0.1)
    ex.step(20)
    p = ex.probabilities(ex.x_adv)
    print(f"explorer, digit 49 after 20 PGD steps: predicted {int(p.argmax())} with {p.max():.3f}")
    noise = torch.rand(1000, 64, generator=torch.Generator().manual_seed(0))
    pn, cn = attacks.predict(judge, noise)
    print(f"noise: mean confidence {float(cn.mean()):.3f}, above 0.9: {float((cn > 0.9).float().mean()):.3f}, "
          f"per class {torch.bincount(pn, minlength=10).tolist()}")
    fool = attacks.fooling_images(judge, noise[:10], torch.arange(10), steps=50, lr=0.02)
    pf, cf = attacks.predict(judge, fool)
    near = lambda x: torch.cdist(x, X_train).min(1).values.mean().item()   # noqa: E731
    print(f"fooling images: all on target {bool((pf == torch.arange(10)).all())}, min confidence "
          f"{float(cf.min()):.6f}; nearest-digit distance {near(fool):.2f} (test digits {near(X_test):.2f})")
    print("adversarial training, 600 steps: training eps -> clean, PGD 0.1, PGD 0.2")
    for e in (0.0, 0.1, 0.2, 0.3):
        run = rd.AdversarialTraining(eps=e)
        timed(f"train at eps {e}", lambda: run.train(600))
        accs = [attacks.accuracy_under_attack(run.model, X_test, y_test, r) for r in (0.0, 0.1, 0.2)]
        print(f"  {e}: " + ", ".join(f"{a:.3f}" for a in accs))
    model, _ = timed("VAE, 16D code, 1200 steps", lambda: vae.train_vae(vae.Config(latent=16), steps=1200))
    enc = lambda x: model.encode(x)[0]   # noqa: E731
    gen = torch.Generator().manual_seed(0)
    src, tgt = torch.randperm(360, generator=gen)[:100], torch.randperm(360, generator=gen)[:100]
    keep = y_test[src] != y_test[tgt]
    src, tgt = src[keep], tgt[keep]
    with torch.no_grad():
        zt = enc(X_test[tgt])
    for e in (0.1, 0.2, 0.3):
        xa = attacks.latent_attack(enc, X_test[src], zt, e)
        with torch.no_grad():
            s = float((attacks.predict(judge, model.reconstruct(xa))[0] == y_test[tgt]).float().mean())
        print(f"VAE latent attack, eps {e}: success {s:.3f} over {int(keep.sum())} pairs")


def section3(judge, X_test, y_test):
    print("\n== section 3: explainability")
    x, t = X_test[:100], y_test[:100]
    for m in (1, 5, 20, 50, 300):
        gap = explain.completeness_gap(judge, explain.integrated_gradients(judge, x, t, steps=m), x, t)
        print(f"  IG with {m:>3} points: completeness gap mean {float(gap.mean()):.5f}, worst {float(gap.max()):.5f}")
    gxi = explain.completeness_gap(judge, explain.gradient_times_input(judge, x, t), x, t)
    print(f"  gradient x input: gap mean {float(gxi.mean()):.4f}")
    for name in rd.BASELINES:
        b = rd.baseline_image(name, x)
        ig = explain.integrated_gradients(judge, x, t, b, steps=100)
        share = float((ig.abs() * (x == 0)).sum() / ig.abs().sum())
        print(f"  baseline {name:<14}: share on black pixels {share:.3f}, worst gap "
              f"{float(explain.completeness_gap(judge, ig, x, t, b).max()):.4f}")
    sanity = timed("sanity check", lambda: explain.sanity_check(judge, x, t))
    for method, values in sanity.items():
        print(f"  sanity, {method}: " + ", ".join(f"{v:.3f}" for v in values))
    model, _ = vae.train_vae(vae.Config(latent=16), steps=1200)
    with torch.no_grad():
        spread = model.encode(X_test)[0].var(0)
    print(f"  VAE 16D: active dimensions (variance > 0.01): {int((spread > 0.01).sum())}")


def main():
    torch.manual_seed(0)
    X_train, _, X_test, y_test = digits.load()
    judge = timed("digit judge", digits.trained_classifier)
    section2(judge, X_train, X_test, y_test)
    section3(judge, X_test, y_test)


if __name__ == "__main__":
    main()
