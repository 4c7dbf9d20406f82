"""genmech.audio: μ-law, tones, causal convolutions, the small WaveNet and its baselines."""
import math

import numpy as np
import pytest
import torch

from genmech import audio


def test_mu_law_round_trip():
    x = torch.linspace(-1, 1, 20001)
    codes = audio.mu_law_encode(x)
    assert codes.dtype == torch.long and codes.min() == 0 and codes.max() == 255
    back = audio.mu_law_decode(codes)
    # the error is at most half a bin, and bins are narrow near 0
    assert (back - x).abs().max() < 0.025
    quiet = x.abs() < 0.01
    assert (back[quiet] - x[quiet]).abs().max() < 0.0005
    # every code decodes and re-encodes to itself
    assert torch.equal(audio.mu_law_encode(audio.mu_law_decode(torch.arange(256))), torch.arange(256))
    # monotone
    assert (codes[1:] >= codes[:-1]).all()


def test_mu_law_refuses_bad_input():
    with pytest.raises(ValueError, match="finite"):
        audio.mu_law_encode(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="whole numbers"):
        audio.mu_law_decode(torch.tensor([256]))
    with pytest.raises(ValueError, match="whole numbers"):
        audio.mu_law_decode(torch.tensor([0.5]))


def test_tone_has_its_pitch_and_decays():
    w = audio.tone(440.0, 0.5, rate=8000)
    assert len(w) == 4000 and np.abs(w).max() <= 0.8 + 1e-6
    spectrum = np.abs(np.fft.rfft(w))
    assert abs(np.fft.rfftfreq(4000, 1 / 8000)[spectrum.argmax()] - 440) < 3
    assert np.abs(w[-500:]).max() < np.abs(w[:500]).max()
    with pytest.raises(ValueError):
        audio.tone(-1.0, 0.5)


def test_causal_convolution_never_sees_the_future():
    torch.manual_seed(0)
    model = audio.WaveNet(channels=8, layers=4)
    assert model.receptive_field == 16
    codes = torch.randint(0, 256, (1, 40))
    out = model(codes)
    changed = codes.clone()
    changed[0, 30] = (changed[0, 30] + 7) % 256
    out2 = model(changed)
    # outputs before position 30 are unchanged, output 30 (which predicts sample 31) changes
    assert torch.allclose(out[..., :30], out2[..., :30])
    assert not torch.allclose(out[..., 30], out2[..., 30])
    # and a change further back than the receptive field does not reach
    far = codes.clone()
    far[0, 5] = (far[0, 5] + 7) % 256
    assert torch.allclose(model(far)[..., 5 + 16:], out[..., 5 + 16:])


def test_wavenet_learns_more_than_the_baselines():
    train, _ = audio.tone_dataset(40, 0.5, seed=0)
    test, _ = audio.tone_dataset(5, 0.5, seed=1)
    tr, te = audio.mu_law_encode(train), audio.mu_law_encode(test)
    uni, bi = audio.unigram_nll(tr, te), audio.repeat_nll(tr, te)
    assert bi < uni < math.log(256)
    model, losses = audio.train_wavenet(tr, steps=300, length=256, batch=8, channels=24, layers=7)
    assert audio.wavenet_nll(model, te) < bi


def test_generation_length_and_bad_temperature():
    torch.manual_seed(0)
    model = audio.WaveNet(channels=8, layers=3)
    prompt = torch.randint(0, 256, (10,))
    out = audio.generate_audio(model, 20, prompt, seed=1)
    assert len(out) == 30 and torch.equal(out[:10], prompt)
    assert torch.equal(out, audio.generate_audio(model, 20, prompt, seed=1))
    for bad in (0, -0.5, float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            audio.generate_audio(model, 5, prompt, temperature=bad)
