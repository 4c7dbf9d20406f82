"""Tests of genmech.decoding: beam search, the repetition penalty, constrained decoding,
filtering, memorization checks and image post-processing."""
import pytest
import torch
from torch import nn

from genmech import decoding


class TableModel(nn.Module):
    """A 'language model' whose next-token logits depend only on the last token: a table."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)
        self.config = type("C", (), {"block_size": 8})()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, idx, targets=None):
        return self.table[idx], None


def test_beam_search_finds_the_more_probable_sequence_greedy_misses():
    # from 0: token 1 looks best (0.6) but leads to a flat 1/3 choice; token 2 (0.4) leads to
    # a certain token. Best 2-step path: 0 -> 2 -> 2 (0.4 * ~1) beats 0 -> 1 -> x (0.6 / 3).
    logp = torch.log(torch.tensor([[1e-9, 0.6, 0.4], [1 / 3, 1 / 3, 1 / 3], [1e-9, 1e-9, 1.0]]))
    model = TableModel(logp)
    start = torch.tensor([0])
    assert decoding.beam_search(model, start, 2, width=1).tolist()[1] == 1       # greedy
    assert decoding.beam_search(model, start, 2, width=3).tolist() == [0, 2, 2]  # beam
    with pytest.raises(ValueError):
        decoding.beam_search(model, start, 2, width=0)


def test_repetition_penalty_lowers_seen_tokens_whatever_their_sign():
    z = torch.tensor([2.0, -1.0, 0.5, 3.0])
    out = decoding.repetition_penalty(z, torch.tensor([0, 1, 1]), theta=2.0)
    assert out.tolist() == [1.0, -2.0, 0.5, 3.0]
    assert torch.equal(decoding.repetition_penalty(z, torch.tensor([0]), 1.0), z)
    with pytest.raises(ValueError):
        decoding.repetition_penalty(z, torch.tensor([0]), 0.5)


def test_constrained_generation_only_emits_allowed_tokens():
    model = TableModel(torch.zeros(5, 5))
    out = decoding.constrained_generate(model, torch.tensor([0]), 30, lambda g: [2, 3], seed=1)
    assert set(out[1:].tolist()) <= {2, 3}
    stopped = decoding.constrained_generate(model, torch.tensor([0]), 30, lambda g: [4], stop=4)
    assert stopped.tolist() == [0, 4]
    with pytest.raises(ValueError, match="no token"):
        decoding.constrained_generate(model, torch.tensor([0]), 3, lambda g: [])


def test_repeated_ngram_rate():
    assert decoding.repeated_ngram_rate("abcdefgh") == 0.0
    assert decoding.repeated_ngram_rate("abababab", n=2) == pytest.approx(5 / 7)


def test_rejection_filter_keeps_confident_samples():
    images = torch.arange(3.0)[:, None]
    probs = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    kept, mask = decoding.rejection_filter(images, probs, 0.8)
    assert mask.tolist() == [True, False, True] and kept.flatten().tolist() == [0.0, 2.0]
    with pytest.raises(ValueError):
        decoding.rejection_filter(images, probs, 1.5)


def test_memorization_checks():
    train = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert decoding.nearest_copy_distance(torch.tensor([[3.0, 4.0], [0.0, 1.0]]), train).tolist() == [0.0, 1.0]
    assert decoding.longest_shared_substring("xxhello worldyy", "say hello world!") == "hello world"
    assert decoding.longest_shared_substring("qqq", "abc") == ""


def test_image_post_processing():
    x = torch.tensor([[-0.5] + [0.5] * 62 + [1.5]])
    assert decoding.clamp(x).min() == 0 and decoding.clamp(x).max() == 1
    flat = torch.full((2, 64), 0.3)
    assert torch.allclose(decoding.smooth(flat), flat)                    # a constant image is unchanged
    assert decoding.upscale(flat, factor=4).shape == (2, 32, 32)
    with pytest.raises(ValueError):
        decoding.smooth(flat, strength=2)
