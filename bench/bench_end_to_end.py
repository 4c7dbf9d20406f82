"""Figures stated in the end-to-end chapter, and how long each piece takes (printed, never asserted).

Section 1 (data): condition numbers and steps to 0.05 nats on the wine table; augmentation on a
50-digit training set (classifier accuracy, VAE -ELBO, test digits as they are and moved);
duplicates and leakage (n-gram model, order 5); the learning curve's power law; corrupted
labels and repeated examples. Section 2 (fine-tuning): pretraining time, fine-tuning versus
from scratch versus LoRA rank 4 on the standard library's docstrings (both domains' losses),
trainable parameters. Section 3 (assistant): the toy SFT model, DPO and DPO + SFT loss
(preferred share, wrong share, win rate, KL). Section 4: repetition under greedy, beam and
penalty decoding, rejection filtering, near-copies. Section 5: precision, recall and novelty
of the GAN's truncation and the VAE's prior scale. The notebooks measure the same things with the
same seeds; the numbers here are for `make bench`.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

from genmech import decoding, digits, finetune, gpt, lm, pipeline, vae


def timed(label, fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    print(f"  [{label}: wall {time.perf_counter() - start:.1f} s, cpu {time.process_time() - cpu:.1f} s]")
    return out


def section1():
    print("1. data input and preprocessing")
    X, y = pipeline.wine()
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    Xtr, ytr = X[order[:130]], y[order[:130]]
    for kind in pipeline.SCALINGS:
        Z = pipeline.Scaler(kind).fit(Xtr).transform(Xtr)
        steps = [pipeline.steps_to_loss(Z, ytr, float(10.0 ** k), 0.05, 1000) for k in range(-6, 3)]
        done = [s for s in steps if s is not None]
        print(f"  {kind:<9} kappa {pipeline.hessian_condition(Z):10.3g}   fewest steps to 0.05 nats: "
              f"{min(done) if done else 'not within 1000'}")
    X_all, y_all, X_test, y_test = digits.load()
    moved = pipeline.augment(X_test, 1, max_shift=1.0, max_degrees=10.0, seed=99)
    acc = {}
    for seed in (0, 1, 2):
        Xs, ys = pipeline.per_class(X_all, y_all, 5, seed=seed)
        for name, (a, b) in {"plain": (Xs, ys), "augmented": (torch.cat([Xs, pipeline.augment(Xs, 10, seed=10 + seed)]),
                                                              ys.repeat(11))}.items():
            m = pipeline.fit_classifier(a, b, steps=300, seed=seed)
            acc.setdefault((name, "as is"), []).append(pipeline.evaluate_classifier(m, X_test, y_test)["accuracy"])
            acc.setdefault((name, "moved"), []).append(pipeline.evaluate_classifier(m, moved, y_test)["accuracy"])
    for k, v in acc.items():
        print(f"  classifier, {k[0]:<9} test {k[1]:<6}: accuracy {np.mean(v):.3f}")
    small_X, _ = pipeline.per_class(X_all, y_all, 5, seed=0)
    for name, data in (("plain", small_X), ("augmented", torch.cat([small_X, pipeline.augment(small_X, 10, seed=10)]))):
        m = vae.train_vae(vae.Config(latent=8), steps=600, data=data)[0]
        print(f"  VAE, {name:<9}: test -ELBO as is {vae.evaluate_vae(m, X_test)['neg_elbo']:.1f}, "
              f"moved {vae.evaluate_vae(m, moved)['neg_elbo']:.1f} nats")
    split = lm.split_corpus(lm.load_corpus())
    train_p = set(split.train.split("\n\n"))
    test_p = [p for p in split.test.split("\n\n") if p.strip()]
    print(f"  test paragraphs also in training: {np.mean([p in train_p for p in test_p]):.1%}")
    leaky_train, leaked, unseen = pipeline.leak(split.train, split.test, 0.5)
    for name, text in (("honest", split.train), ("leaky", leaky_train)):
        m = pipeline.NGramLM(5).fit(text)
        print(f"  n-gram (5), {name:<6}: test {m.loss(split.test):.3f}, leaked half {m.loss(leaked):.3f}, "
              f"unseen half {m.loss(unseen):.3f} nats/char")
    sizes, errors = [20, 40, 80, 160, 320, 640, len(X_all)], []
    for n in sizes:
        runs = []
        for seed in (0, 1, 2):
            pick = torch.randperm(len(X_all), generator=torch.Generator().manual_seed(seed))[:n]
            m = pipeline.fit_classifier(X_all[pick], y_all[pick], steps=400, seed=seed)
            runs.append(1 - pipeline.evaluate_classifier(m, X_test, y_test)["accuracy"])
        errors.append(np.mean(runs))
    fit = pipeline.fit_power_law(sizes, errors)
    print(f"  learning curve: errors {np.round(errors, 4).tolist()}; fit a={fit['a']:.3g} b={fit['b']:.3f} "
          f"c={fit['c']:.4f} rmse={fit['rmse']:.4f}")
    for f in (0.0, 0.1, 0.2, 0.4, 0.6):
        r = pipeline.evaluate_classifier(pipeline.fit_classifier(X_all, pipeline.corrupt_labels(y_all, f), steps=400),
                                         X_test, y_test)
        print(f"  {f:.0%} labels corrupted: accuracy {r['accuracy']:.3f}, loss {r['loss']:.3f}")
    for u in (20, 50, 100, 200, 400):
        r = pipeline.evaluate_classifier(pipeline.fit_classifier(*pipeline.repeat_subset(X_all, y_all, u, 400), steps=400),
                                         X_test, y_test)
        print(f"  {u:>3} distinct of 400: accuracy {r['accuracy']:.3f}")


def section2():
    print("2. training and fine-tuning")
    base = timed("pretraining (once per process)", finetune.pretrained)
    _, data = finetune.domains()
    scores = {"old": data["old_valid"][:8000], "new": data["new_valid"][:8000]}
    runs = {"full": timed("full fine-tuning, 300 steps", lambda: finetune.finetune(
                copy.deepcopy(base), data["new_train"], 300, evaluate=scores, every=25)),
            "scratch": timed("from scratch, 300 steps", lambda: finetune.finetune(
                finetune.fresh_like(base), data["new_train"], 300, evaluate=scores, every=25))}
    lora = copy.deepcopy(base)
    n = finetune.add_lora(lora, 4)
    runs["LoRA 4"] = timed("LoRA rank 4, 300 steps", lambda: finetune.finetune(
        lora, data["new_train"], 300, evaluate=scores, every=25))
    target = runs["scratch"]["new"][-1]
    print(f"  parameters {finetune.trainable_parameters(base):,}; LoRA rank 4 trains {n:,}")
    for name, r in runs.items():
        reach = next((s for s, v in zip(r["steps"], r["new"]) if v <= target), None)
        print(f"  {name:<8} new {r['new'][0]:.3f} -> {r['new'][-1]:.3f}, old {r['old'][0]:.3f} -> {r['old'][-1]:.3f}, "
              f"steps to {target:.3f}: {reach}")


def section3():
    print("3. from a pretrained model to an assistant (see the notebook for the same run)")
    torch.manual_seed(0)
    sft = gpt.GPT(gpt.GPTConfig(vocab_size=finetune.TOY_VOCAB, block_size=8, n_layer=2, n_head=2, n_embd=32))
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(sft.parameters(), lr=1e-2, weight_decay=0.0)
    start = time.perf_counter()
    for _ in range(800):
        p = finetune.toy_prompts(64, 3, generator=gen)
        loss = finetune.sft_loss(sft, p, finetune.toy_response(p, torch.randint(0, 2, (64,), generator=gen)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    sft.eval()
    test = finetune.toy_prompts(1000, 3, generator=torch.Generator().manual_seed(1))
    s = finetune.toy_score(test, finetune.sample_responses(sft, test, 4, generator=torch.Generator().manual_seed(2)))
    print(f"  SFT ({time.perf_counter() - start:.1f} s): reversed {float((s == 2).float().mean()):.2f}, "
          f"in order {float((s == 1).float().mean()):.2f}, wrong {float((s == 0).float().mean()):.2f}")


def section4():
    print("4. generation and post-processing")
    vocab, _ = finetune.domains()
    model = finetune.pretrained()
    prompt = vocab.encode("The number of ")
    for name, ids in (("greedy", decoding.beam_search(model, prompt, 120, 1)),
                      ("beam 4", decoding.beam_search(model, prompt, 120, 4)),
                      ("penalty 1.2", decoding.penalized_generate(model, prompt, 120, 1.2))):
        print(f"  {name:<12} repeated 4-grams {decoding.repeated_ngram_rate(vocab.decode(ids[len(prompt):])):.2f}")
    X, _, X_test, _ = digits.load()
    m = vae.train_vae(vae.Config(latent=8), steps=1200)[0]
    s = vae.prior_samples(m, 1000, seed=0)
    with torch.no_grad():
        p = torch.softmax(digits.trained_classifier()(s), 1)
    for tau in (0.0, 0.9, 0.99):
        _, mask = decoding.rejection_filter(s, p, tau)
        print(f"  filter tau={tau}: kept {float(mask.float().mean()):.2f}, confidence {float(p[mask].max(1).values.mean()):.3f}")
    t, d = decoding.nearest_copy_distance(X_test, X), decoding.nearest_copy_distance(s, X)
    print(f"  near-copies: {float((d < torch.quantile(t, 0.05)).float().mean()):.3f} (test digits 0.05)")


def section5():
    print("5. creativity versus realism (GAN truncation, VAE prior scale)")
    from genmech import end_to_end_demos, quality
    X, _, X_test, _ = digits.load()
    real, train = digits.features(X_test), digits.features(X)
    demo = end_to_end_demos.TruncationDemo()
    timed("TruncationDemo, 1500 steps", lambda: demo.step(1500))
    z = torch.rand(500, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for psi in (0.25, 0.5, 0.75, 1.0):
        with torch.no_grad():
            f = digits.features(demo.gan.sample(500, psi * z))
        print(f"  GAN psi={psi}: {quality.precision_recall(real, f)}, novelty {float(quality.novelty(f, train).mean()):.2f}")
    m = vae.train_vae(vae.Config(latent=8), steps=1200)[0]
    eps = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    for scale in (0.25, 0.5, 1.0, 1.5, 2.0):
        f = digits.features(vae.decode_mean(m, scale * eps))
        print(f"  VAE s={scale}: {quality.precision_recall(real, f)}, novelty {float(quality.novelty(f, train).mean()):.2f}")


if __name__ == "__main__":
    print(f"torch threads: {torch.get_num_threads()}")
    timed("section 1 figures", section1)
    timed("section 2 figures", section2)
    timed("section 3 figures", section3)
    timed("section 4 figures", section4)
    timed("section 5 figures", section5)
