"""Figures the challenges chapter states (sections 1 and 4), with their CPU seconds.

    python bench/bench_challenges.py      (or `make bench`, or `python bench/run.py challenges`)

Section 1, bias and fairness:
1. the digit GAN (3 seeds) and VAE (3 seeds) on digits with class 8 at 5 %: total variation
   from the training mix and the amplification of class 8; after balanced resampling, the
   share of class 8 in the samples;
2. the occupation corpus and the small GPT: completion rates at τ = 1 and τ = 0.5;
3. the hiring data: demographic parity and equalized odds differences (ours and fairlearn's),
   the ExponentiatedGradient trade-off, the equalized-odds post-processing and its PPVs.

Section 4, authenticity:
4. the watermark's false-positive rates on human text over keys; true positive rates against
   length; perplexity against strength; the real-vs-generated digit detector.

Timings are printed, never asserted; torch runs on one thread (genmech's default), and on a
shared machine the wall clock also counts other jobs (CPU seconds are the fairer figure).
"""
from __future__ import annotations

import time

import numpy as np

from genmech import challenges_demos as cd
from genmech import digits, fairness
from genmech import watermark as wm


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self):
        return f"[{self.cpu:.1f} s CPU, {self.wall:.1f} s wall]"


def bias() -> None:
    digits.trained_classifier()
    X, y, _, _ = digits.load()
    Xs, ys = fairness.skew(X, y, 8, 0.05)
    train = cd.judged_mix(Xs)
    tv = lambda mix: 0.5 * np.abs(mix - train).sum(-1)        # noqa: E731
    with Clock() as c:
        g = np.array([cd.gan_class_mix(Xs, seed=s) for s in range(3)])
        v = np.array([cd.vae_class_mix(Xs, seed=s) for s in range(3)])
    print(f"skewed digits (class 8 at {100 * train[8]:.1f} %) {c}")
    print(f"  GAN: TV {tv(g).mean():.3f}, amplification of 8 per run {np.round(g[:, 8] / train[8], 2)}, "
          f"mean amplification range {(g / train).mean(0).min():.2f}-{(g / train).mean(0).max():.2f}")
    print(f"  VAE: TV {tv(v).mean():.3f}, amplification of 8 per run {np.round(v[:, 8] / train[8], 2)}")
    balanced = Xs[fairness.balanced_sample(ys.numpy(), len(ys))]
    with Clock() as c:
        gb = np.array([cd.gan_class_mix(balanced, seed=s) for s in range(3)])
        vb = np.array([cd.vae_class_mix(balanced, seed=s) for s in range(2)])
    print(f"resampled {c}: share of 8, GAN {100 * g[:, 8].mean():.1f} % -> {100 * gb[:, 8].mean():.1f} % "
          f"(runs {np.round(100 * gb[:, 8], 1)}), VAE {100 * v[:, 8].mean():.1f} % -> {100 * vb[:, 8].mean():.1f} %")

    jobs = list(fairness.SHE_RATE)
    with Clock() as c:
        model, vocab, text = cd.occupation_lm()
    corpus, warm = cd.corpus_rates(text, jobs), cd.completion_rates(model, vocab, jobs)
    cold = cd.completion_rates(model, vocab, jobs, tau=0.5)
    print(f"occupation GPT {c}: max |model - corpus| at τ = 1: {np.abs(warm - corpus).max():.3f}")
    for job, a, b, d in zip(jobs, corpus, warm, cold):
        print(f"  {job:<9} corpus {a:.3f}  τ = 1: {b:.3f}  τ = 0.5: {d:.3f}")

    import fairlearn.metrics as flm
    with Clock() as c:
        h = cd.hiring_experiment()
    t, p = h["test"], h["plain"]
    print(f"hiring {c}: DP {fairness.demographic_parity_difference(p, t.group):.3f} "
          f"(fairlearn {flm.demographic_parity_difference(t.y, p, sensitive_features=t.group):.3f}), "
          f"EO {fairness.equalized_odds_difference(t.y, p, t.group):.3f} "
          f"(fairlearn {flm.equalized_odds_difference(t.y, p, sensitive_features=t.group):.3f})")
    for g, r in fairness.group_rates(t.y, p, t.group).items():
        print(f"  group {g}: selection {r['selection_rate']:.3f}, group-blind {t.merit[t.group == g].mean():.3f}")
    for point in cd.tradeoff_points(h):
        print(f"  {point['name']:<12} accuracy {point['accuracy']:.3f}, vs group-blind {point['merit']:.3f}, DP {point['dp']:.3f}")
    for g, r in fairness.group_rates(t.y, h["equalized"], t.group).items():
        print(f"  equalized odds, group {g}: TPR {r['tpr']:.3f}, FPR {r['fpr']:.3f}, PPV {r['ppv']:.3f}")


def authenticity() -> None:
    with Clock() as c:
        model, vocab, data = cd.small_lm()
    print(f"small GPT, 500 steps {c}: validation loss {model.loss_on(data['valid'][:20000]):.3f}")
    table, prompt = wm.green_table(len(vocab), 0.5, key=42), vocab.encode("The ")
    valid = data["valid"]
    starts = np.linspace(0, len(valid) - 201, 40).astype(int)
    z = {True: [], False: []}
    for key in range(1000, 1040):
        t = wm.green_table(len(vocab), 0.5, key=key)
        for unique in (True, False):
            z[unique] += [wm.z_score(*wm.green_count(valid[s:s + 200], t, unique), 0.5) for s in starts]
    for unique, v in z.items():
        v = np.array(v)
        print(f"human text, pairs {'once' if unique else 'all'}: sd {v.std():.2f}, above 2: {(v > 2).mean():.3f}, "
              f"above 4: {(v > 4).mean():.4f} (normal {wm.normal_tail(2):.3f}; bound at 4 {wm.false_positive_bound(4, 0.5):.1e})")
    lengths = [25, 50, 100, 200]
    with Clock() as c:
        plain = cd.z_by_length(wm.generate(model, prompt, 200, batch=64, seed=2), table, 0.5, len(prompt), lengths)
        for delta in (1.0, 2.0):
            zm = cd.z_by_length(wm.generate(model, prompt, 200, table=table, delta=delta, batch=64, seed=3),
                                table, 0.5, len(prompt), lengths)
            print(f"  δ = {delta}: flagged at {lengths}: {np.round((zm > 4).mean(0), 3)}")
    print(f"detection vs length {c}; unwatermarked flagged {(plain > 4).mean(0)}, mean z at 200 {plain[:, -1].mean():.2f}")
    with Clock() as c:
        for delta in (0.0, 1.0, 2.0, 4.0, 8.0):
            texts = wm.generate(model, prompt, 120, table=table, delta=delta, batch=16, seed=4)
            print(f"  δ = {delta}: perplexity {wm.perplexity(model, texts, len(prompt)):.2f}, "
                  f"mean z {cd.z_by_length(texts, table, 0.5, len(prompt), [120]).mean():.2f}")
    print(f"perplexity vs strength {c}")
    with Clock() as c:
        det = cd.detector_curve()
    print(f"digit detector {c}: steps {det['steps']}, accuracy {np.round(det['accuracy'], 3)}")


if __name__ == "__main__":
    bias()
    authenticity()
