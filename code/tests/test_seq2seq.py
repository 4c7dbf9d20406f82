"""genmech.seq2seq: the numbers-to-words task, cross-attention, the encoder-decoder model."""
import pytest
import torch

from genmech import seq2seq
from genmech.attention import attend


def test_number_words():
    assert seq2seq.number_words(0) == "zero"
    assert seq2seq.number_words(15) == "fifteen"
    assert seq2seq.number_words(40) == "forty"
    assert seq2seq.number_words(342) == "three hundred forty two"
    assert seq2seq.number_words(70015) == "seventy thousand fifteen"
    assert seq2seq.number_words(100000) == "one hundred thousand"
    for bad in (-1, 1_000_000, 2.5, True):
        with pytest.raises(ValueError):
            seq2seq.number_words(bad)


def test_data_round_trip_and_split():
    data = seq2seq.TranslationData(limit=1000, n_test=100, seed=0)
    tgt = data.encode_target([342, 7])
    assert data.decode_target(tgt[0, 1:]) == "three hundred forty two"
    assert data.decode_target(tgt[1, 1:]) == "seven"
    src, _ = data.train_batch(64, torch.Generator().manual_seed(0))
    numbers = [int("".join(data.src_vocab[i] for i in row if i)) for row in src]
    assert not any(data.is_test[n] for n in numbers)


def test_cross_attention_matches_attend_and_ignores_padding():
    torch.manual_seed(0)
    ca = seq2seq.CrossAttention(8, 1)
    x, mem = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    with torch.no_grad():
        out = ca(x, mem, mask)
        assert ca.weights.shape == (2, 1, 3, 5)
        assert torch.allclose(ca.weights.sum(-1), torch.ones(2, 1, 3))
        assert (ca.weights[1, :, :, 3:] == 0).all()
        q, (k, v) = ca.q(x), ca.kv(mem).split(8, dim=2)
        expected, _ = attend(q[:, None], k[:, None], v[:, None], mask=mask[:, None, None, :])
        assert torch.allclose(out, ca.proj(expected[:, 0]), atol=1e-6)
        # changing a padded memory position changes nothing
        mem2 = mem.clone()
        mem2[1, 4] += 10
        assert torch.allclose(ca(x, mem2, mask)[1], out[1], atol=1e-6)


def test_the_decoder_is_causal():
    torch.manual_seed(0)
    data = seq2seq.TranslationData(limit=1000, n_test=10)
    model = seq2seq.Seq2Seq(data).eval()
    src, tgt = data.encode_source([342]), data.encode_target([342])
    with torch.no_grad():
        a = model(src, tgt)
        tgt2 = tgt.clone()
        tgt2[0, 3] = 5
        b = model(src, tgt2)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_a_short_training_learns_and_translate_respects_limits():
    data = seq2seq.TranslationData(limit=1000, n_test=100, seed=0)
    untrained = seq2seq.Seq2Seq(data).eval()
    model, losses = seq2seq.train_seq2seq(data, steps=300, cfg=seq2seq.Seq2SeqConfig(n_layer=1))
    assert losses[-1] < 0.3 * losses[0]
    assert seq2seq.exact_match(model, data, data.test_numbers) > 0.5
    assert seq2seq.exact_match(model, data, data.test_numbers) > seq2seq.exact_match(untrained, data, data.test_numbers)
    assert len(seq2seq.translate(model, data, [777], max_words=2)[0].split()) <= 2
    with pytest.raises(ValueError):
        seq2seq.translate(model, data, [5000])
    with pytest.raises(ValueError):
        seq2seq.translate(model, data, [5], max_words=0)
