"""Byte-pair encoding trained from scratch (genmech.tokenizer)."""
import pytest

from genmech.tokenizer import BPETokenizer, chunks, merge, pair_counts

TEXT = "the cat sat on the mat; the cat ate the rat. " * 20


def test_chunks_cover_the_text():
    for s in [TEXT, "x = 3.14  # π\n\n  done", "", "  leading and trailing  "]:
        assert "".join(chunks(s)) == s


def test_merge_and_pair_counts():
    assert merge((1, 2, 1, 2, 3), (1, 2), 9) == (9, 9, 3)
    assert merge((1, 1, 1), (1, 1), 9) == (9, 1)          # left to right, no overlap
    counts = pair_counts({(1, 2, 3): 2, (2, 3): 5})
    assert counts[(2, 3)] == 7 and counts[(1, 2)] == 2


def test_first_merge_is_the_most_frequent_pair():
    tok = BPETokenizer().train(TEXT, 10)
    assert len(tok.merges) == 10 and len(tok) == 266
    # ' t' / 'at' / 'he' are the commonest pairs in TEXT; the first merge must be one of the top pairs
    first = tok.vocab[256]
    assert first in (b" t", b"at", b"th", b"he")
    # every merged token is the concatenation of the two it was made from
    for i, (a, b) in enumerate(tok.merges):
        assert tok.vocab[256 + i] == tok.vocab[a] + tok.vocab[b]


@pytest.mark.parametrize("text", [TEXT, "unseen words: zebra quokka 12345!",
                                  "naïve café — 東京 🙂\n\ttabs", "", " "])
def test_round_trip_including_unseen_text(text):
    tok = BPETokenizer().train(TEXT, 30)
    assert tok.decode(tok.encode(text)) == text


def test_merges_compress_the_training_text():
    tok = BPETokenizer().train(TEXT, 30)
    assert len(tok.encode(TEXT)) < 0.5 * len(TEXT.encode("utf-8"))


def test_training_stops_when_nothing_is_left_to_merge():
    tok = BPETokenizer().train("ab ab", 100)
    assert len(tok.merges) < 100 and tok.encode("ab ab") == [tok.encode("ab")[0], tok.encode(" ab")[0]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_merges"):
        BPETokenizer().train(TEXT, -1)
    with pytest.raises(TypeError, match="text must be a str"):
        BPETokenizer().encode(b"bytes")
    with pytest.raises(ValueError, match="unknown token ids"):
        BPETokenizer().decode([100000])
