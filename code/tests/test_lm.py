"""The corpus, its splits, and the bigram and MLP language models (genmech.lm)."""
import math

import pytest
import torch

from genmech import lm


@pytest.fixture(scope="module")
def corpus():
    return lm.load_corpus()


def test_corpus_is_real_text_of_stable_size(corpus):
    assert 300_000 < len(corpus) < 400_000
    assert "KMeans" in corpus and "Parameters\n----------" in corpus
    assert corpus == lm.load_corpus()                     # deterministic


def test_split_is_disjoint_interleaved_and_complete(corpus):
    s = lm.split_corpus(corpus)
    paragraphs = [p for p in corpus.split("\n\n") if p.strip()]
    n = sum(len([p for p in part.split("\n\n") if p.strip()]) for part in (s.train, s.valid, s.test))
    assert n == len(paragraphs)
    assert 0.75 < len(s.train) / len(corpus) < 0.85
    assert 0.07 < len(s.test) / len(corpus) < 0.13
    with pytest.raises(ValueError, match="every"):
        lm.split_corpus(corpus, every=1)


def test_vocabulary_round_trip_and_unknown_characters(corpus):
    v = lm.Vocabulary(corpus)
    text = "KMeans clusters data."
    assert v.decode(v.encode(text)) == text
    with pytest.raises(ValueError, match="not in the vocabulary"):
        v.encode("☃")


def test_batches_are_shifted_by_one():
    data = torch.arange(100)
    x, y = lm.random_batch(data, 8, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8) and torch.equal(y, x + 1)
    wx, wy = lm.windows(data, 3)
    assert wx.shape == (99, 3) and wx[5].tolist() == [3, 4, 5] and wy[5].item() == 6
    with pytest.raises(ValueError, match="need more than context"):
        lm.random_batch(torch.arange(5), 8, 2)


def test_bigram_probabilities_are_counts():
    data = torch.tensor([0, 1, 0, 1, 0, 2])
    b = lm.BigramLM(3, alpha=1e-6).fit(data)
    assert torch.allclose(b.probs.sum(1), torch.ones(3))
    assert b.probs[0, 1].item() == pytest.approx(2 / 3, abs=1e-4)
    assert b.probs[1, 0].item() == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="alpha"):
        lm.BigramLM(3, alpha=0)


def test_uniform_model_has_loss_log_v():
    b = lm.BigramLM(5)                                    # no counts: uniform
    assert b.loss(torch.tensor([0, 1, 2, 3, 4])) == pytest.approx(math.log(5))
    assert lm.perplexity(math.log(5)) == pytest.approx(5)


def test_mlp_learns_a_deterministic_sequence():
    data = torch.arange(1000) % 7                        # next token is a function of the last
    model = lm.MLPLM(7, context=3, n_embd=4, hidden=32)
    before = model.loss_on(data)
    lm.train_lm(model, data, 300, context=3, lr=1e-2)
    assert before > 1.5 and model.loss_on(data) < 0.05
