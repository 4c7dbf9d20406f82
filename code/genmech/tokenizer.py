"""Byte-pair encoding (BPE), trained from scratch.

The chapter *Transformers and language models* reads this module (section *From text to
numbers*). Sennrich, Haddow & Birch (2016) adapted an old compression trick to build
vocabularies for neural translation: start from single symbols, and repeatedly merge the
most frequent adjacent pair into a new symbol. Like GPT-2 (Radford et al., 2019) we start
from the 256 possible *bytes* of UTF-8, so that every string, in any script, can be encoded
and decoded back exactly — there is no "unknown" token.

Text is first cut into chunks (a word with its leading space, a run of digits, a run of
punctuation, a run of white space) and merges never cross a chunk boundary, so tokens
stay word-like.
"""
from __future__ import annotations

import re
from collections import Counter

CHUNK = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+")


def chunks(text: str) -> list[str]:
    """Cut ``text`` into the pieces that merges may not cross; ``"".join`` gives it back."""
    return CHUNK.findall(text)


def pair_counts(words: dict[tuple, int]) -> Counter:
    """How often each adjacent pair of symbols occurs, over words with their frequencies."""
    counts: Counter = Counter()
    for word, n in words.items():
        for pair in zip(word, word[1:]):
            counts[pair] += n
    return counts


def merge(word: tuple, pair: tuple, new: int) -> tuple:
    """Replace every occurrence of ``pair`` in ``word`` (left to right) by the symbol ``new``."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


class BPETokenizer:
    """A byte-level BPE tokenizer: ``train`` learns merges, ``encode``/``decode`` use them.

    ``merges`` is the ordered list of learned pairs: merge ``i`` creates token ``256 + i``.
    ``vocab[t]`` is the byte string token ``t`` stands for.
    """

    def __init__(self):
        self.merges: list[tuple[int, int]] = []
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}

    def __len__(self) -> int:
        return len(self.vocab)

    def train(self, text: str, num_merges: int) -> "BPETokenizer":
        """Learn ``num_merges`` merges from ``text``, most frequent pair first."""
        if not isinstance(num_merges, int) or num_merges < 0:
            raise ValueError(f"num_merges must be a non-negative int, got {num_merges!r}")
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self.__init__()
        freq = Counter(tuple(c.encode("utf-8")) for c in chunks(text))
        words, counts = [list(w) for w in freq], [freq[w] for w in freq]
        pairs = pair_counts(dict(zip(map(tuple, words), counts)))
        where: dict[tuple, set] = {}                    # pair -> the words it occurs in
        for i, w in enumerate(words):
            for pair in zip(w, w[1:]):
                where.setdefault(pair, set()).add(i)
        for _ in range(num_merges):
            if not pairs:
                break                                   # every chunk is a single token
            pair = max(pairs, key=lambda p: (pairs[p], -p[0], -p[1]))    # ties: smallest ids
            new = 256 + len(self.merges)
            self.merges.append(pair)
            self.vocab[new] = self.vocab[pair[0]] + self.vocab[pair[1]]
            # only the words that contain the pair change: update their pair counts
            for i in where.pop(pair, ()):
                old = words[i]
                for p in zip(old, old[1:]):
                    pairs[p] -= counts[i]
                    if pairs[p] <= 0:
                        del pairs[p]
                words[i] = list(merge(tuple(old), pair, new))
                for p in zip(words[i], words[i][1:]):
                    pairs[p] += counts[i]
                    where.setdefault(p, set()).add(i)
        self.rank = {pair: i for i, pair in enumerate(self.merges)}
        return self

    def encode_chunk(self, chunk: str) -> list[int]:
        """Apply the learned merges to one chunk, in the order they were learned."""
        word = tuple(chunk.encode("utf-8"))
        rank = getattr(self, "rank", {})
        while len(word) > 1:
            pairs = [(rank[p], p) for p in zip(word, word[1:]) if p in rank]
            if not pairs:
                break
            r, pair = min(pairs)
            word = merge(word, pair, 256 + r)
        return list(word)

    def encode(self, text: str) -> list[int]:
        """Text -> token ids. Any string works: unseen characters fall back to their bytes."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return [t for c in chunks(text) for t in self.encode_chunk(c)]

    def decode(self, ids) -> str:
        """Token ids -> text (``decode(encode(s)) == s`` for every string ``s``)."""
        bad = [i for i in ids if i not in self.vocab]
        if bad:
            raise ValueError(f"unknown token ids: {bad[:5]}")
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        """A readable form of one token (spaces shown as ␣)."""
        return self.vocab[token].decode("utf-8", errors="replace").replace(" ", "␣").replace("\n", "⏎")
