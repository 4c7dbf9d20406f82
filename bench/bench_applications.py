"""Figures stated in the applications chapter, and how long each model takes to train (2 CPU cores).

Prints, for each section, every number its text states: images (the conditional VAE's hit
rate and spread, inpainting errors and the judge's verdicts, super-resolution PSNR and
verdicts, the ink edit), music (corpus sizes, n-gram validation NLLs, test NLL per note of
unigram, bigram, best n-gram and the transformer, sample statistics), text (exact match of
the encoder-decoder) and audio (μ-law SNRs,
NLL per sample of the baselines and the WaveNet). Timings are printed, never asserted: the
machine is shared and noisy (CPU time is the fairer figure).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from genmech import audio, conditional, digits, music, seq2seq, vae
from genmech.applications_demos import ChoraleDemo

BUDGET_S = 60.0


def timed(label, fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    flag = "ok" if seconds < BUDGET_S else "OVER"
    print(f"  {label:<46} wall {seconds:6.1f} s  cpu {cpu:6.1f} s  ({flag}, budget {BUDGET_S:.0f} s)")
    return out


def judged(images, labels):
    return float((torch.as_tensor(digits.judge(images).predictions) == labels).float().mean())


def images():
    print("images")
    X, y, Xt, yt = digits.load()
    print(f"  judge accuracy on real test digits       {digits.judge_accuracy():.3f}")
    cvae, _ = timed("conditional VAE, latent 4, 2000 steps", lambda: conditional.train_cvae(vae.Config(latent=4), 2000))
    rate, per = conditional.class_hit_rate(cvae, 100)
    real = np.mean([X[y == c].std(0).mean() for c in range(10)])
    fake = np.mean([conditional.draw(cvae, c, 200, seed=2).std(0).mean() for c in range(10)])
    print(f"  hit rate {rate:.3f}, worst class {int(per.argmin())} at {per.min():.2f}; spread real {real:.3f} vs drawn {fake:.3f}")
    vae8, _ = timed("VAE, latent 8, 2000 steps", lambda: vae.train_vae(vae.Config(latent=8), 2000))
    mask = conditional.half_mask("bottom")
    shown, labels = Xt[:200], yt[:200]
    fills = {"mean": conditional.mean_fill(shown, mask, X), "nearest": conditional.nearest_fill(shown, mask, X),
             "vae": timed("inpainting 200 digits (latent search)", lambda: conditional.inpaint(vae8, shown, mask))}
    for k, f in fills.items():
        print(f"  inpaint {k:<8} hidden MSE {conditional.hidden_mse(f, shown, mask):.4f}  judge {judged(f, labels):.3f}")
    up, _ = timed("super-resolution network, 2000 steps", lambda: conditional.train_upsampler(2000))
    low = conditional.downsample(Xt)
    with torch.no_grad():
        for k, e in {"nearest": conditional.nearest_upsample(low), "bicubic": conditional.bicubic_upsample(low),
                     "network": up(low)}.items():
            print(f"  super-res {k:<8} PSNR {conditional.psnr(e, Xt):.2f} dB  judge {judged(e, yt):.3f}")
    d = conditional.attribute_vector(cvae, X, y)
    ed = conditional.edit(cvae, Xt[:200], yt[:200], d / d.norm(), [-2, -1, 0, 1, 2])
    print("  ink along the attribute vector, a = -2..2:", [round(float(conditional.ink(e).mean()), 4) for e in ed])


def text_section():
    print("text")
    data = seq2seq.TranslationData(limit=100_000, n_test=1000, seed=0)
    model, losses = timed("encoder-decoder, 1 layer, 400 steps",
                          lambda: seq2seq.train_seq2seq(data, steps=400, cfg=seq2seq.Seq2SeqConfig(n_layer=1)))
    print(f"  target words {len(data.tgt_vocab) - 3}, final loss {np.mean(losses[-20:]):.4f}, "
          f"exact match on {len(data.test_numbers)} held-out numbers "
          f"{seq2seq.exact_match(model, data, data.test_numbers):.3f}")


def music_section():
    print("music")
    named = timed("reading the chorales", music.load_melodies)
    mel = [m for _, m in named]
    train, valid, test = music.split_melodies(mel)
    vocab = music.MusicVocab(mel)
    tr, va, te = (vocab.encode_many(s) for s in (train, valid, test))
    print(f"  files {len(music.chorale_paths())}, melodies {len(mel)} (train {len(train)}, valid {len(valid)}, "
          f"test {len(test)}), vocabulary {len(vocab)}, mean notes {np.mean([len(m) for m in mel]):.1f}")
    ngrams = {n: music.NGramLM(n, len(vocab)).fit(tr) for n in range(1, 9)}
    vn = {n: music.nll_per_note(ngrams[n].nll(va), va, vocab.sep) for n in ngrams}
    best = min(vn, key=vn.get)
    print("  n-gram validation NLL per note:", {n: round(v, 3) for n, v in vn.items()}, "best", best)
    demo = ChoraleDemo()
    timed("ChoraleDemo.record, 600 steps", lambda: demo.record(600))
    for name, total in [("unigram", ngrams[1].nll(te)), ("bigram", ngrams[2].nll(te)),
                        (f"{best}-gram", ngrams[best].nll(te)), ("transformer", music.token_nll(demo.model, te))]:
        print(f"  test NLL per note {name:<12} {music.nll_per_note(total, te, vocab.sep):.3f}")
    pc, iv = music.pitch_class_histogram(test), music.interval_histogram(test)
    sets = {"unigram": [ngrams[1].sample(vocab, 40, seed=s) for s in range(20)],
            f"{best}-gram": [ngrams[best].sample(vocab, 40, seed=s) for s in range(20)]}
    for T in (0.5, 1.0, 1.5):
        sets[f"T={T}"] = [music.sample_melody(demo.model, vocab, 40, T, seed=s) for s in range(20)]
    for k, m in sets.items():
        print(f"  {k:<10} pitch-class TV {music.total_variation(music.pitch_class_histogram(m), pc):.3f}  "
              f"interval TV {music.total_variation(music.interval_histogram(m), iv):.3f}  in key {music.in_key_fraction(m):.3f}")
    print(f"  test melodies in key {music.in_key_fraction(test):.3f}")


def audio_section():
    print("audio")
    tr_w, _ = audio.tone_dataset(40, 0.5, seed=0)
    te_w, _ = audio.tone_dataset(10, 0.5, seed=1)
    quiet = te_w.abs() < 0.05
    mu, lin = audio.mu_law_decode(audio.mu_law_encode(te_w)), audio.linear_decode(audio.linear_encode(te_w))
    print(f"  SNR all: mu-law {audio.snr_db(te_w, mu):.1f} dB, linear {audio.snr_db(te_w, lin):.1f} dB; "
          f"quiet: mu-law {audio.snr_db(te_w[quiet], mu[quiet]):.1f} dB, linear {audio.snr_db(te_w[quiet], lin[quiet]):.1f} dB")
    tr, te = audio.mu_law_encode(tr_w), audio.mu_law_encode(te_w)
    model, _ = timed("WaveNet, 300 steps", lambda: audio.train_wavenet(tr, steps=300, length=256, batch=8,
                                                                       channels=24, layers=7))
    print(f"  NLL per sample: unigram {audio.unigram_nll(tr, te):.3f}, bigram {audio.repeat_nll(tr, te):.3f}, "
          f"WaveNet {audio.wavenet_nll(model, te):.3f}")
    timed("generating 3000 samples", lambda: audio.generate_audio(model, 3000, te[2, :128], seed=0))


def main():
    print(f"torch threads: {torch.get_num_threads()}")
    images()
    text_section()
    music_section()
    audio_section()


if __name__ == "__main__":
    main()
