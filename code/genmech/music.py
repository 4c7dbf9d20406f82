"""Music as tokens: Bach's chorale melodies, n-gram baselines, a small transformer, a synthesizer.

The chapter *Applications*, section *Music*, reads this module. It holds

* :func:`chorale_paths`, :func:`read_melody` and :func:`load_melodies`: the soprano lines of
  the Bach chorales that ship inside the pinned ``music21`` package (no download), read
  straight from their MusicXML files (the standard library's ``zipfile`` and ``xml``: a
  chorale in milliseconds; music21's full parser takes a fifth of a second per chorale and
  the tests check that both agree), transposed to the key signature without sharps or flats;
* :class:`Note` and :class:`MusicVocab`: a melody as tokens, one pitch token then one
  duration token per note, and ``|`` between chorales;
* :class:`NGramLM`: counted n-gram models with Witten–Bell interpolation (Witten & Bell
  1991), the baselines;
* :func:`nll_per_note`, :func:`sample_melody`: the transformer of :mod:`genmech.gpt` scored
  and sampled with a grammar mask (a pitch, then a duration);
* :func:`synthesize` and :func:`wav_bytes`: notes to a waveform (a few decaying harmonics
  per note, numpy) and to a WAV file in memory;
* :func:`pitch_class_histogram`, :func:`interval_histogram`, :func:`total_variation`,
  :func:`in_key_fraction`: the statistics that compare samples with real chorales.

The demo that trains the transformer with a temperature you can hear is
:class:`genmech.applications_demos.ChoraleDemo`.
"""
from __future__ import annotations

import functools
import importlib.util
import io
import math
import pathlib
import wave
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from xml.etree import ElementTree

import numpy as np
import torch

from .lm import random_batch

STEP_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
DIATONIC = {0, 2, 4, 5, 7, 9, 11}      # the white keys: C major / A minor, no sharps or flats
SEPARATOR = "|"


# --------------------------------------------------------------------------- reading chorales
@dataclass(frozen=True)
class Note:
    """One note of a melody: ``pitch`` a MIDI number (60 = middle C) or ``None`` for a rest,
    ``duration`` in quarter notes (1.0 = a crotchet, 0.5 = a quaver)."""

    pitch: int | None
    duration: float


def chorale_paths() -> list[pathlib.Path]:
    """The MusicXML files of the Bach chorales inside the installed music21 (no download)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the chorales ship with music21: install music21 (requirements.txt)")
    folder = pathlib.Path(spec.origin).parent / "corpus" / "bach"
    return sorted(folder.glob("*.mxl"), key=lambda p: p.name)


def _score_xml(path: pathlib.Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        container = ElementTree.fromstring(z.read("META-INF/container.xml"))
        inner = next(e.get("full-path") for e in container.iter() if e.tag.endswith("rootfile"))
        return z.read(inner)


def read_melody(path) -> tuple[list[Note], int]:
    """The first part (the soprano) of a MusicXML chorale as notes, and its key signature
    (``fifths``: sharps > 0, flats < 0). Tied notes are merged into one.

    Raises ``ValueError`` with the reason for a file this reader cannot take: not a
    chorale whose first part is a single-voice soprano line (an instrumental descant, a
    part with several voices, chords or grace notes).
    """
    path = pathlib.Path(path)
    try:
        xml = _score_xml(path)
    except (OSError, KeyError, StopIteration, zipfile.BadZipFile, ElementTree.ParseError) as err:
        raise ValueError(f"{path.name}: not a readable MusicXML archive ({err})") from None
    names, notes, fifths, divisions, tied = [], [], None, None, False
    try:
        for _, el in ElementTree.iterparse(io.BytesIO(xml), events=("end",)):
            if el.tag == "part-name":
                names.append((el.text or "").strip())
            elif el.tag == "divisions":
                divisions = int(el.text)
            elif el.tag == "fifths" and fifths is None:
                fifths = int(el.text)
            elif el.tag in ("backup", "forward"):
                raise ValueError(f"{path.name}: the first part has more than one voice")
            elif el.tag == "note":
                if el.find("chord") is not None or el.find("grace") is not None:
                    raise ValueError(f"{path.name}: the first part has chords or grace notes")
                if divisions is None:
                    raise ValueError(f"{path.name}: a note comes before the divisions are set")
                duration = int(el.findtext("duration")) / divisions
                pitch = None
                if el.find("pitch") is not None:
                    p = el.find("pitch")
                    pitch = (12 * (int(p.findtext("octave")) + 1) + STEP_SEMITONES[p.findtext("step")]
                             + int(float(p.findtext("alter") or 0)))
                ties = {t.get("type") for t in el.findall("tie")}
                if tied and notes and notes[-1].pitch == pitch:      # the tie's second half
                    notes[-1] = Note(pitch, notes[-1].duration + duration)
                else:
                    notes.append(Note(pitch, duration))
                tied = "start" in ties
            elif el.tag == "part":            # the first part is all we need
                break
    except ElementTree.ParseError as err:
        raise ValueError(f"{path.name}: malformed MusicXML ({err})") from None
    if not names or "soprano" not in names[0].lower():
        first = names[0] if names else "none"
        raise ValueError(f"{path.name}: the first part is {first!r}, not a soprano")
    if not notes or fifths is None:
        raise ValueError(f"{path.name}: no notes or no key signature in the first part")
    return notes, fifths


def transpose_to_c(notes: list[Note], fifths: int) -> list[Note]:
    """Shift a melody so that its key signature has no sharps or flats (major keys land on
    C major, minor keys on A minor), by the smallest interval (-6 .. +5 semitones)."""
    shift = -((7 * fifths) % 12)            # the major tonic of ``fifths`` sharps is 7·fifths mod 12
    shift = (shift + 6) % 12 - 6
    return [Note(None if n.pitch is None else n.pitch + shift, n.duration) for n in notes]


@functools.lru_cache(maxsize=1)
def load_melodies() -> tuple[tuple[str, tuple[Note, ...]], ...]:
    """Every chorale melody this reader can take, transposed, each once: ``(name, notes)``.

    Several chorales share a melody (Bach harmonised the same hymn tune more than once);
    only the first copy of each is kept, so a melody cannot sit in both the training and
    the test set. Cached: the first call reads the files (a few seconds), later calls are free.
    """
    seen, out = set(), []
    for path in chorale_paths():
        try:
            notes, fifths = read_melody(path)
        except ValueError:
            continue                          # an instrumental first part, several voices...
        notes = tuple(transpose_to_c(notes, fifths))
        key = tuple((n.pitch, n.duration) for n in notes)
        if key in seen:
            continue
        seen.add(key)
        out.append((path.stem, notes))
    return tuple(out)


def split_melodies(melodies, every: int = 10):
    """``(train, valid, test)``: every ``every``-th melody to validation, the next to test."""
    train = [m for i, m in enumerate(melodies) if i % every not in (0, 1)]
    valid = [m for i, m in enumerate(melodies) if i % every == 0]
    test = [m for i, m in enumerate(melodies) if i % every == 1]
    return train, valid, test


# --------------------------------------------------------------------------- tokens
class MusicVocab:
    """Tokens: ``|`` (between chorales), ``R`` (a rest), one per pitch (``P60`` ...), one per
    duration (``D0.5`` ...). A note is two tokens, its pitch (or ``R``) then its duration."""

    def __init__(self, melodies):
        pitches = sorted({n.pitch for m in melodies for n in m if n.pitch is not None})
        durations = sorted({n.duration for m in melodies for n in m})
        self.pitches, self.durations = pitches, durations
        self.tokens = [SEPARATOR, "R"] + [f"P{p}" for p in pitches] + [f"D{d:g}" for d in durations]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.sep = self.index[SEPARATOR]
        # the grammar: which tokens may come first in a note, which second
        self.is_duration = torch.tensor([t.startswith("D") for t in self.tokens])

    def __len__(self) -> int:
        return len(self.tokens)

    def note_tokens(self, note: Note) -> list[int]:
        pitch = "R" if note.pitch is None else f"P{note.pitch}"
        duration = f"D{note.duration:g}"
        for token in (pitch, duration):
            if token not in self.index:
                raise ValueError(f"{token} is not in the vocabulary (pitches {self.pitches[0]}.."
                                 f"{self.pitches[-1]}, durations {self.durations})")
        return [self.index[pitch], self.index[duration]]

    def encode(self, melody) -> torch.Tensor:
        """``| p1 d1 p2 d2 ... |``: a melody as token ids."""
        ids = [self.sep]
        for note in melody:
            ids += self.note_tokens(note)
        return torch.tensor(ids + [self.sep])

    def encode_many(self, melodies) -> torch.Tensor:
        """Melodies one after another, one ``|`` between two of them."""
        parts = [self.encode(m)[:-1] for m in melodies]
        return torch.cat(parts + [torch.tensor([self.sep])])

    def decode(self, ids) -> list[Note]:
        """Token ids back to notes; separators are skipped, an unpaired token is an error."""
        ids = [int(i) for i in ids if int(i) != self.sep]
        if len(ids) % 2:
            raise ValueError("a melody has an even number of tokens (a pitch and a duration per note)")
        notes = []
        for a, b in zip(ids[::2], ids[1::2]):
            pitch, dur = self.tokens[a], self.tokens[b]
            if pitch.startswith("D") or not dur.startswith("D"):
                raise ValueError(f"expected a pitch then a duration, got {pitch} {dur}")
            notes.append(Note(None if pitch == "R" else int(pitch[1:]), float(dur[1:])))
        return notes


def notes_in(ids: torch.Tensor, sep: int) -> int:
    """How many notes a token stream holds: its tokens that are not ``|``, halved."""
    return int((ids != sep).sum()) // 2


# --------------------------------------------------------------------------- baselines
class NGramLM:
    """An n-gram model of token ids with Witten–Bell interpolation (Witten & Bell, 1991).

    p_n(w | h) = (c(h, w) + T(h) · p_{n-1}(w | h')) / (c(h) + T(h)),

    where ``h`` holds the previous n − 1 tokens, ``h'`` the previous n − 2, ``c`` counts
    training occurrences and ``T(h)`` is the number of different tokens seen after ``h``: a
    context followed by many different tokens trusts its own counts less. The order-1 model
    (the unigram) is add-one smoothed, so every token has a probability above zero.
    """

    def __init__(self, order: int, vocab_size: int):
        if not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive int, got {order!r}")
        self.order, self.vocab_size = order, vocab_size
        self.counts = [defaultdict(Counter) for _ in range(order)]   # [k][context of k tokens]

    def fit(self, ids) -> "NGramLM":
        ids = [int(i) for i in ids]
        for t, w in enumerate(ids):
            for k in range(self.order):
                if t - k >= 0:
                    self.counts[k][tuple(ids[t - k:t])][w] += 1
        return self

    def prob(self, context: tuple, w: int) -> float:
        """p(w | the last order − 1 tokens of ``context``)."""
        c0 = self.counts[0][()]
        p = (c0[w] + 1) / (sum(c0.values()) + self.vocab_size)
        for k in range(1, self.order):
            if len(context) < k:
                break
            seen = self.counts[k].get(tuple(context[len(context) - k:]))
            if not seen:
                break
            total, types = sum(seen.values()), len(seen)
            p = (seen[w] + types * p) / (total + types)
        return p

    def nll(self, ids) -> float:
        """Total negative log-likelihood (nats) of ``ids`` after the first token."""
        ids = [int(i) for i in ids]
        return -sum(math.log(self.prob(tuple(ids[max(0, t - self.order + 1):t]), ids[t]))
                    for t in range(1, len(ids)))

    def sample(self, vocab: MusicVocab, n_notes: int, seed: int = 0) -> list[Note]:
        """A melody of up to ``n_notes`` notes, drawn token by token (with the grammar mask)."""
        rng = np.random.default_rng(seed)
        ids = [vocab.sep]
        while len(ids) < 1 + 2 * n_notes:
            allowed = _allowed(vocab, len(ids) - 1).numpy()
            p = np.array([self.prob(tuple(ids[-(self.order - 1):]) if self.order > 1 else (), w)
                          if allowed[w] else 0.0 for w in range(len(vocab))])
            w = int(rng.choice(len(vocab), p=p / p.sum()))
            if w == vocab.sep:
                break
            ids.append(w)
        return vocab.decode(ids)


# --------------------------------------------------------------------------- the transformer
@torch.no_grad()
def token_nll(model, ids: torch.Tensor) -> float:
    """Total negative log-likelihood (nats) of ``ids`` after the first token under a GPT.

    The stream is cut into windows of ``block_size`` tokens overlapping by half; each token
    is scored once, with at least half a window of context (as :meth:`genmech.gpt.GPT.loss_on`).
    """
    model.eval()
    T = model.config.block_size
    half = T // 2
    total, s = 0.0, 0
    while True:
        x, y = ids[s:s + T], ids[s + 1:s + T + 1]                      # targets s+1 .. s+T
        logp = torch.log_softmax(model(x[:len(y)][None])[0][0], -1)    # (len(y), V)
        nll = -logp.gather(1, y[:, None])[:, 0]
        total += float(nll[0 if s == 0 else T - half:].sum())          # each target once
        if s + T >= len(ids) - 1:
            return total
        s += half


def nll_per_note(total_nll: float, ids: torch.Tensor, sep: int) -> float:
    """A stream's total NLL divided by the number of notes it holds (nats per note)."""
    return total_nll / notes_in(ids, sep)


def train_chorale_gpt(data: torch.Tensor, vocab: MusicVocab, steps: int = 600, seed: int = 0,
                      block_size: int = 64, batch_size: int = 32, lr: float = 3e-3):
    """A small GPT (:mod:`genmech.gpt`) trained on the melody token stream; returns
    ``(model, losses)``."""
    from .gpt import GPT, GPTConfig

    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=len(vocab), block_size=block_size, n_layer=2, n_head=4, n_embd=64))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(steps):
        x, y = random_batch(data, block_size, batch_size, gen)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


def _allowed(vocab: MusicVocab, position: int) -> torch.Tensor:
    """The grammar: at an even position of a melody a pitch, a rest or the end ``|``; at an
    odd one a duration."""
    return vocab.is_duration if position % 2 else ~vocab.is_duration


def check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a number > 0 (1 is the model's own distribution; "
                         f"smaller is more cautious), got {temperature!r}")
    return float(temperature)


@torch.no_grad()
def sample_melody(model, vocab: MusicVocab, n_notes: int = 32, temperature: float = 1.0,
                  seed: int = 0) -> list[Note]:
    """Up to ``n_notes`` notes from a GPT, starting after ``|``, at ``temperature``.

    p_i ∝ exp(z_i / T) over the tokens the grammar allows (a pitch, then a duration); the
    melody ends early if the model chooses ``|``.
    """
    temperature = check_temperature(temperature)
    if not isinstance(n_notes, int) or n_notes < 1:
        raise ValueError(f"n_notes must be a positive int, got {n_notes!r}")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    ids = torch.tensor([vocab.sep])
    T = model.config.block_size
    while len(ids) < 1 + 2 * n_notes:
        logits = model(ids[-T:][None])[0][0, -1]
        logits = logits.masked_fill(~_allowed(vocab, len(ids) - 1), float("-inf"))
        probs = torch.softmax(logits / temperature, -1)
        nxt = torch.multinomial(probs, 1, generator=gen)
        if int(nxt) == vocab.sep:
            break
        ids = torch.cat([ids, nxt])
    return vocab.decode(ids)


# --------------------------------------------------------------------------- sound
def synthesize(notes, rate: int = 8000, bpm: float = 100.0, harmonics: int = 5) -> np.ndarray:
    """A melody as a mono waveform in [-1, 1] (float32), ``rate`` samples per second.

    Each note of frequency f = 440 · 2^((pitch − 69) / 12) Hz is a sum of harmonics
    k f with amplitudes 1/k (a reedy organ-like tone), shaped by a 10 ms attack and an
    exponential decay, and cut by a 20 ms release so that notes do not click; a rest is
    silence. The length is exactly round(total quarter notes · 60 / bpm · rate) samples.
    """
    if not isinstance(rate, int) or rate < 1000:
        raise ValueError(f"rate must be an int of at least 1000 samples per second, got {rate!r}")
    if not bpm > 0:
        raise ValueError(f"bpm must be positive, got {bpm!r}")
    notes = list(notes)
    seconds_per_quarter = 60.0 / bpm
    onsets = np.concatenate([[0.0], np.cumsum([n.duration for n in notes])]) * seconds_per_quarter
    bounds = np.round(onsets * rate).astype(int)
    out = np.zeros(bounds[-1], dtype=np.float64)
    attack, release = int(0.010 * rate), int(0.020 * rate)
    for note, a, b in zip(notes, bounds[:-1], bounds[1:]):
        if note.pitch is None or b <= a:
            continue
        t = np.arange(b - a) / rate
        f = 440.0 * 2 ** ((note.pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, harmonics + 1) if k * f < rate / 2)
        env = np.exp(-2.5 * t)
        env[:attack] *= np.linspace(0, 1, min(attack, b - a))[:len(env[:attack])]
        tail = min(release, b - a)
        env[len(env) - tail:] *= np.linspace(1, 0, tail)
        out[a:b] = tone * env
    peak = np.abs(out).max() if len(out) else 0.0
    return (0.9 * out / peak if peak > 0 else out).astype(np.float32)


def wav_bytes(signal, rate: int = 8000, bits: int = 8) -> bytes:
    """A mono waveform in [-1, 1] as a PCM WAV file in memory, 8 or 16 bits per sample.

    8 bits (unsigned, 256 levels, the WAV convention) halve the size of 16: a 12-second clip at
    8,000 samples per second is 96 kB, small enough to embed in a web page.
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1:
        raise ValueError(f"a mono signal is one-dimensional, got shape {signal.shape}")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    x = np.clip(signal, -1, 1)
    pcm = ((x * 127.5 + 127.5).round().astype(np.uint8) if bits == 8
           else (x * 32767).round().astype("<i2"))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(bits // 8)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def first_quarters(notes, quarters: float) -> list[Note]:
    """The notes of a melody that start within its first ``quarters`` quarter notes (the last
    one cut to end there): a short excerpt to listen to."""
    out, t = [], 0.0
    for n in notes:
        if t >= quarters:
            break
        out.append(Note(n.pitch, min(n.duration, quarters - t)))
        t += n.duration
    return out


# --------------------------------------------------------------------------- statistics
def pitch_class_histogram(melodies) -> np.ndarray:
    """The share of each pitch class (C, C#, ..., B) among all notes, weighted by duration."""
    h = np.zeros(12)
    for m in melodies:
        for n in m:
            if n.pitch is not None:
                h[n.pitch % 12] += n.duration
    return h / h.sum() if h.sum() else h


def interval_histogram(melodies, largest: int = 12) -> np.ndarray:
    """The share of each melodic step between consecutive notes, −largest .. +largest
    semitones (larger leaps are counted at the ends); rests are skipped over."""
    h = np.zeros(2 * largest + 1)
    for m in melodies:
        pitches = [n.pitch for n in m if n.pitch is not None]
        for a, b in zip(pitches, pitches[1:]):
            h[int(np.clip(b - a, -largest, largest)) + largest] += 1
    return h / h.sum() if h.sum() else h


def total_variation(p, q) -> float:
    """½ Σ |p_i − q_i|: 0 for equal distributions, 1 for ones that share nothing."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"histograms of different shapes {p.shape} and {q.shape}")
    return 0.5 * float(np.abs(p - q).sum())


def in_key_fraction(melodies) -> float:
    """The share of notes (by duration) on the white keys, the scale of the key signature
    every melody was transposed to: how well a melody keeps to its key."""
    h = pitch_class_histogram(melodies)
    return float(sum(h[pc] for pc in DIATONIC))
