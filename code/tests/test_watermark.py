"""genmech.watermark: the green list, watermarked sampling and the z-test (Kirchenbauer et
al., 2023). The detector's false-positive rate on human text must stay within its stated
bound; watermarked text must be detected."""
import math
from functools import lru_cache

import numpy as np
import pytest
import torch

from genmech import gpt, lm
from genmech import watermark as wm


@lru_cache(maxsize=1)
def corpus():
    return gpt.prepare_corpus()


@lru_cache(maxsize=1)
def briefly_trained_gpt():
    """The small GPT after 150 steps on the corpus (seconds): enough to write letters and
    spaces, with the high entropy of a young model."""
    vocab, data = corpus()
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=len(vocab)))
    lm.train_lm(model, data["train"], steps=150, context=model.config.block_size, batch_size=32)
    return model.eval(), vocab


def test_green_table_rows_hold_gamma_v_green_tokens_and_depend_on_the_key():
    t = wm.green_table(98, 0.25, key=1)
    assert t.shape == (98, 98) and (t.sum(1) == round(0.25 * 98)).all()
    assert torch.equal(t, wm.green_table(98, 0.25, key=1))              # deterministic
    other = wm.green_table(98, 0.25, key=2)
    assert (t != other).float().mean() > 0.2                            # another key, other lists
    assert (t.float().mean(0) > 0).all()                                # every token is green somewhere


def test_z_score_and_bounds():
    assert wm.z_score(60, 100, 0.5) == pytest.approx(2.0)
    assert wm.z_score(25, 100, 0.25) == pytest.approx(0.0)
    assert wm.false_positive_bound(4.0, 0.5) == pytest.approx(math.exp(-8))
    assert wm.normal_tail(2.0) == pytest.approx(0.02275, abs=1e-5)
    assert wm.normal_tail(4.0) < wm.false_positive_bound(4.0, 0.5)


def test_green_count_scores_each_pair_once():
    table = torch.zeros(3, 3, dtype=torch.bool)
    table[0, 1] = True
    assert wm.green_count(torch.tensor([0, 1, 0, 1, 0, 1]), table) == (1, 2)         # (0,1), (1,0)
    assert wm.green_count(torch.tensor([0, 1, 0, 1, 0, 1]), table, unique=False) == (3, 5)


@pytest.mark.parametrize("bad", [dict(gamma=0.0), dict(gamma=1.0), dict(gamma=-0.5), dict(gamma="x")])
def test_bad_gamma_is_refused(bad):
    with pytest.raises(ValueError, match="gamma"):
        wm.green_table(10, **bad)


def test_bad_strength_is_refused():
    model, vocab = briefly_trained_gpt()
    table = wm.green_table(len(vocab))
    for delta in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="delta"):
            wm.generate(model, vocab.encode("The "), 3, table=table, delta=delta)
    with pytest.raises(ValueError, match="green table"):
        wm.generate(model, vocab.encode("The "), 3, delta=2.0)
    with pytest.raises(ValueError, match="two tokens"):
        wm.green_count(torch.tensor([1]), table)


def human_z_scores(length=200, texts=60, keys=60, unique=True, gamma=0.5):
    """z-scores of ``texts`` passages of the validation split (human-written, never seen by a
    key), each scored under ``keys`` random keys: shape (keys, texts)."""
    vocab, data = corpus()
    valid = data["valid"]
    starts = np.linspace(0, len(valid) - length - 1, texts).astype(int)
    out = np.empty((keys, texts))
    for k in range(keys):
        table = wm.green_table(len(vocab), gamma, key=1000 + k)
        for j, s in enumerate(starts):
            out[k, j] = wm.z_score(*wm.green_count(valid[s:s + length], table, unique), gamma)
    return out


def test_false_positive_rate_on_human_text_is_within_its_bound():
    """The null hypothesis: a text written without the key. Over keys, z has mean 0 and at most
    unit variance, so the share above a threshold stays within the normal tail (plus three
    standard errors of its estimate) and within Hoeffding's bound, which holds at any length."""
    z = human_z_scores()
    n = z.size
    for threshold in (1.5, 2.0, 2.5):
        alpha = wm.normal_tail(threshold)
        assert (z > threshold).mean() <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / n)
    assert (z > 4.0).mean() <= wm.false_positive_bound(4.0, 0.5)
    # the mean over 60 keys has a standard error of about 0.075 (keys differ by 0.57): 4 of them
    assert abs(z.mean()) < 0.3 and z.std() < 1.05


def test_counting_repeated_pairs_breaks_the_bound():
    """Why each (previous, token) pair is scored once: in text, pairs repeat ("th", "e "), a
    repeated pair has the same colour every time, and the z-score's variance grows."""
    z = human_z_scores(unique=False)
    assert z.std() > 1.2
    assert (z > 2.0).mean() > 2 * wm.normal_tail(2.0)


def test_watermarked_text_is_detected():
    """100 watermarked characters (delta = 2, gamma = 0.5) are flagged at z > 4 in at least 90 %
    of 32 texts; the same model without the watermark is flagged in none."""
    model, vocab = briefly_trained_gpt()
    table = wm.green_table(len(vocab), 0.5, key=7)
    prompt = vocab.encode("The ")
    marked = wm.generate(model, prompt, 100, table=table, delta=2.0, batch=32, seed=1)
    plain = wm.generate(model, prompt, 100, batch=32, seed=1)
    flagged = [wm.detect(row[len(prompt) - 1:], table, 0.5)[1] for row in marked]
    assert np.mean(flagged) >= 0.9
    assert not any(wm.detect(row[len(prompt) - 1:], table, 0.5)[1] for row in plain)


def test_a_stronger_watermark_costs_perplexity():
    model, vocab = briefly_trained_gpt()
    table = wm.green_table(len(vocab), 0.5, key=7)
    prompt = vocab.encode("The ")
    ppl = [wm.perplexity(model, wm.generate(model, prompt, 60, table=table, delta=d, batch=16, seed=2), len(prompt))
           for d in (0.0, 8.0)]
    assert ppl[1] > 1.2 * ppl[0]
