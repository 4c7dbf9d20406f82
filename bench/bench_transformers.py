"""Figures stated by the transformers chapter, measured (printed, never asserted).

* the time the default small GPT needs to bring its validation loss below
  ``gpt.TARGET_LOSS`` (the chapter claims: within 90 s on 2 CPU cores), on 1 and 2 threads;
* training speed in tokens per second (each step predicts batch x block_size tokens);
* sampling speed in tokens per second (one token at a time, as in the book);
* the test-loss ladder: bigram, MLP, transformer (after the 90 s run);
* section 8 (*Inside a modern transformer*): the validation loss of the same GPT with
  learned, sinusoidal, rotary and no positions and with tied weights, after the page's 250
  steps and after 1,000 (does the ranking hold with four times the training?); the
  parameters tying saves; generation with and without the key-value cache; the fitted
  log-log slopes of attention's and the feed-forward network's time, and their FLOPs;
* section 9 (*Scaling and beyond*): the validation loss of six widths at 250 steps, their
  non-embedding parameters and the fitted power-law exponent.

Timings depend on the machine and on whatever else runs on it. On a busy machine the
wall time overstates what an idle one needs; the CPU time per thread does not, so both
are printed, and training stops after 90 s of either (or 270 s of wall time).
"""
from __future__ import annotations

import math
import os
import time

import torch

import genmech
from genmech import gpt, gpt_demos, lm, sampling
from genmech.nets import count_parameters

BUDGET = 90.0


def time_to_target(data, vocab, threads: int, budget: float = BUDGET):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = gpt.GPTConfig(vocab_size=len(vocab))
    model = gpt.GPT(config)
    state = {"reached": None, "tokens": 0, "valid": math.inf}
    start, cpu0 = time.perf_counter(), time.process_time()

    def check(step, loss):
        """Validate every 50 steps; stop after ``budget`` seconds of wall time or of CPU time
        per thread (on a busy machine the CPU time is what an idle machine would need)."""
        state["tokens"] += 32 * config.block_size
        if step % 50 == 49:
            state["valid"] = model.loss_on(data["valid"])
            if state["reached"] is None and state["valid"] < gpt.TARGET_LOSS:
                state["reached"] = (time.perf_counter() - start,
                                    (time.process_time() - cpu0) / threads, step + 1)
        return (time.perf_counter() - start > 3 * budget
                or (time.process_time() - cpu0) / threads > budget)

    lm.train_lm(model, data["train"], 10**9, context=config.block_size, batch_size=32, lr=3e-3,
                on_step=check)
    elapsed = time.perf_counter() - start
    state["cpu"] = (time.process_time() - cpu0) / threads
    return model, state, elapsed


def main():
    vocab, data = gpt.prepare_corpus()
    print(f"corpus: {sum(len(d) for d in data.values()):,} characters, vocabulary {len(vocab)}; "
          f"GENMECH_THREADS={os.environ.get('GENMECH_THREADS', '1')}, device {genmech.device()}")
    print(f"target: validation loss < {gpt.TARGET_LOSS} nats/char within {BUDGET:.0f} s")
    results = {}
    for threads in (1, 2):
        model, state, elapsed = time_to_target(data, vocab, threads)
        reached = (f"reached at {state['reached'][0]:.1f} s wall, {state['reached'][1]:.1f} s CPU "
                   f"per thread (step {state['reached'][2]})" if state["reached"] else "NOT reached")
        print(f"{threads} thread(s): {reached}; trained {elapsed:.0f} s wall / {state['cpu']:.0f} s CPU "
              f"per thread: {state['tokens'] / elapsed:,.0f} training tokens/s wall, "
              f"{state['tokens'] / state['cpu']:,.0f} per CPU-second; final valid loss {state['valid']:.3f}",
              flush=True)
        results[threads] = model
    torch.set_num_threads(1)
    model = results[1]
    start = time.perf_counter()
    sampling.generate(model, vocab.encode("The "), 500, temperature=0.8)
    print(f"sampling: {500 / (time.perf_counter() - start):,.0f} tokens/s (one at a time, 1 thread)")
    bigram = lm.BigramLM(len(vocab)).fit(data["train"])
    torch.manual_seed(0)
    mlp = lm.MLPLM(len(vocab))
    lm.train_lm(mlp, data["train"], 2000, context=8, batch_size=64, lr=3e-3)
    print(f"test loss (nats/char): bigram {bigram.loss(data['test']):.3f}, MLP {mlp.loss_on(data['test']):.3f}, "
          f"transformer after the timed 1-thread run {model.loss_on(data['test']):.3f}")


def modern(vocab, data):
    """The figures of section 8, as the page measures them (and positions after 1,000 steps)."""
    torch.set_num_threads(1)
    for steps in (250, 1000):
        start = time.perf_counter()
        runs = gpt_demos.compare_positions(data, len(vocab), steps=steps)
        losses = ", ".join(f"{name} {loss:.3f}" for name, (_, loss) in runs.items())
        print(f"section 8, valid loss after {steps} steps: {losses} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    saved = count_parameters(runs["learned"][0]) - count_parameters(runs["learned, tied"][0])
    print(f"tying saves {saved:,} of {count_parameters(runs['learned'][0]):,} parameters")
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=len(vocab), block_size=256))
    lengths = [32, 64, 128, 255]
    times = gpt_demos.generation_seconds(model, lengths, repeats=3)
    print("generation seconds (n: without / with cache, speed-up): " + ", ".join(
        f"{n}: {a:.3f} / {b:.3f}, {a / b:.1f}x" for n, a, b in zip(lengths, times["without cache"], times["with cache"])))
    T_list = [64, 128, 256, 512, 1024]
    att = gpt_demos.attention_seconds(T_list, d_model=128, repeats=5)
    flops = gpt_demos.block_flops(T_list, d_model=128)
    for name in ("attention", "feed-forward"):
        print(f"{name}: ms {[round(1e3 * t, 2) for t in att[name]]}, time slope "
              f"{gpt_demos.loglog_slope(T_list, att[name]):.2f}, FLOP slope {gpt_demos.loglog_slope(T_list, flops[name]):.2f}")
    points = gpt_demos.scaling_points(data, len(vocab), steps=250)
    print("section 9, width: N, valid loss: " + ", ".join(f"{p['width']}: {p['params']:,}, {p['loss']:.3f}" for p in points))
    alpha = -gpt_demos.loglog_slope([p["params"] for p in points], [p["loss"] for p in points])
    print(f"fitted exponent alpha = {alpha:.3f}")


if __name__ == "__main__":
    if os.environ.get("BENCH_SECTION") == "8":       # the figures of sections 8 and 9 alone
        modern(*gpt.prepare_corpus())
    else:
        main()
        modern(*gpt.prepare_corpus())
