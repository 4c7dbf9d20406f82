"""genmech.music: reading chorales, tokens, n-grams, sampling, the synthesizer, statistics."""
import io
import math
import wave

import numpy as np
import pytest
import torch

from genmech import music
from genmech.music import Note


@pytest.fixture(scope="module")
def melodies():
    return [m for _, m in music.load_melodies()]


@pytest.fixture(scope="module")
def vocab(melodies):
    return music.MusicVocab(melodies)


def test_the_corpus_ships_with_music21_and_most_chorales_are_read(melodies):
    assert len(music.chorale_paths()) > 400
    assert 250 < len(melodies) < 433
    # transposed to the key signature without accidentals: mostly white keys
    assert music.in_key_fraction(melodies) > 0.9


def test_the_reader_agrees_with_music21_on_a_chorale():
    """Our MusicXML reader against music21's own parser (slow, so two chorales only)."""
    music21 = pytest.importorskip("music21")
    for path in music.chorale_paths()[5:7]:
        notes, fifths = music.read_melody(path)
        score = music21.converter.parse(path)
        ours = [(n.pitch, n.duration) for n in notes]
        theirs = []
        for el in score.parts[0].flatten().notesAndRests.stream().stripTies():
            pitch = None if el.isRest else el.pitch.midi
            theirs.append((pitch, float(el.quarterLength)))
        # music21 keeps rests of zero length out and merges ties as we do
        assert ours == theirs, path.name
        assert fifths == score.parts[0].flatten().getElementsByClass("KeySignature")[0].sharps


def test_tokenizer_round_trip_on_a_chorale(melodies, vocab):
    melody = melodies[3]
    ids = vocab.encode(melody)
    assert int(ids[0]) == vocab.sep and int(ids[-1]) == vocab.sep
    assert len(ids) == 2 * len(melody) + 2
    assert vocab.decode(ids) == list(melody)
    assert music.notes_in(ids, vocab.sep) == len(melody)


def test_tokens_refuse_what_they_cannot_say(vocab):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode([Note(20, 1.0)])
    with pytest.raises(ValueError, match="even number"):
        vocab.decode([vocab.index["P60"]])
    with pytest.raises(ValueError, match="pitch then a duration"):
        vocab.decode([vocab.index["D1"], vocab.index["P60"]])


def test_an_unreadable_chorale_is_a_readable_error(tmp_path):
    bad = tmp_path / "broken.mxl"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable MusicXML"):
        music.read_melody(bad)


def test_transposition_lands_on_no_accidentals():
    # D major (2 sharps): D -> C, two semitones down; E-flat major (-3): E-flat -> C
    assert music.transpose_to_c([Note(62, 1.0)], 2) == [Note(60, 1.0)]
    assert music.transpose_to_c([Note(63, 1.0), Note(None, 1.0)], -3) == [Note(60, 1.0), Note(None, 1.0)]


def test_ngram_probabilities_sum_to_one_and_context_helps(melodies, vocab):
    data = vocab.encode_many(melodies[:100])
    for order in (1, 3):
        lm = music.NGramLM(order, len(vocab)).fit(data)
        for context in [(), tuple(int(t) for t in data[10:12]), (0, 1)]:
            total = sum(lm.prob(context, w) for w in range(len(vocab)))
            assert total == pytest.approx(1.0, abs=1e-9)
    held = vocab.encode_many(melodies[100:130])
    uni = music.NGramLM(1, len(vocab)).fit(data).nll(held)
    tri = music.NGramLM(3, len(vocab)).fit(data).nll(held)
    assert tri < 0.8 * uni


def test_token_nll_matches_a_direct_computation_on_a_short_stream(vocab, melodies):
    from genmech.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(vocab), block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    ids = vocab.encode(melodies[0])[:16]
    with torch.no_grad():
        logp = torch.log_softmax(model(ids[:-1][None])[0][0], -1)
    direct = -logp.gather(1, ids[1:, None]).sum().item()
    assert music.token_nll(model, ids) == pytest.approx(direct, rel=1e-5)
    # a longer stream: every token scored once, so the total grows with the length
    long = vocab.encode_many(melodies[:3])
    assert music.token_nll(model, long) > music.token_nll(model, long[:len(long) // 2])


def test_sampling_obeys_the_grammar_and_refuses_a_bad_temperature(vocab, melodies):
    from genmech.gpt import GPT, GPTConfig

    model = GPT(GPTConfig(vocab_size=len(vocab), block_size=16, n_layer=1, n_head=2, n_embd=16))
    notes = music.sample_melody(model, vocab, 12, temperature=1.0, seed=3)
    assert 0 <= len(notes) <= 12 and all(isinstance(n, Note) for n in notes)
    assert notes == music.sample_melody(model, vocab, 12, temperature=1.0, seed=3)
    for bad in (0, -1.0, float("nan"), "hot"):
        with pytest.raises(ValueError, match="temperature must be a number > 0"):
            music.sample_melody(model, vocab, 12, temperature=bad)


def test_synthesizer_length_and_range():
    notes = [Note(60, 1.0), Note(None, 0.5), Note(67, 1.5), Note(72, 0.25)]
    rate, bpm = 8000, 120
    signal = music.synthesize(notes, rate=rate, bpm=bpm)
    assert signal.dtype == np.float32
    assert len(signal) == round(3.25 * 60 / bpm * rate)
    assert np.abs(signal).max() <= 0.9 + 1e-6 and np.abs(signal).max() > 0.5
    # the rest is silent, the notes are not
    q = 60 / bpm * rate
    assert np.abs(signal[int(1.05 * q):int(1.45 * q)]).max() == 0
    assert np.abs(signal[:int(q)]).max() > 0.1
    # the dominant frequency of the first note is middle C, 261.6 Hz
    first = signal[:int(q)]
    spectrum = np.abs(np.fft.rfft(first))
    freq = np.fft.rfftfreq(len(first), 1 / rate)[spectrum.argmax()]
    assert abs(freq - 261.63) < 3
    with pytest.raises(ValueError):
        music.synthesize(notes, rate=100)


def test_wav_bytes_is_a_wav_file_of_the_right_length():
    signal = np.sin(np.linspace(0, 100, 4000))
    for bits in (8, 16):
        data = music.wav_bytes(signal, 8000, bits)
        with wave.open(io.BytesIO(data)) as w:
            assert w.getnframes() == 4000 and w.getframerate() == 8000
            assert w.getsampwidth() == bits // 8 and w.getnchannels() == 1
    with pytest.raises(ValueError):
        music.wav_bytes(np.zeros((2, 10)))


def test_statistics():
    up = [[Note(60, 1.0), Note(62, 1.0), Note(64, 2.0)]]
    h = music.pitch_class_histogram(up)
    assert h.sum() == pytest.approx(1.0) and h[4] == pytest.approx(0.5)
    iv = music.interval_histogram(up)
    assert iv[12 + 2] == pytest.approx(1.0)
    assert music.total_variation(h, h) == 0
    assert music.total_variation([1, 0], [0, 1]) == 1
    assert music.in_key_fraction([[Note(61, 1.0), Note(60, 1.0)]]) == pytest.approx(0.5)
    excerpt = music.first_quarters([Note(60, 1.0), Note(62, 3.0), Note(64, 1.0)], 2.0)
    assert excerpt == [Note(60, 1.0), Note(62, 1.0)]
