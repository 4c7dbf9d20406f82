"""Precision, recall and novelty (genmech.quality) on cases whose answer is known."""
import pytest
import torch

from genmech import digits
from genmech.quality import knn_radii, novelty, precision_recall


def test_a_hand_computed_case():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0]])
    # k = 1: every real ball has radius 1, so 0.5 is on the manifold and 10 is not;
    # the two fakes are 9.5 apart, so their balls (radius 9.5) hold every real point.
    assert knn_radii(real, k=1).tolist() == [1.0, 1.0, 1.0, 1.0]
    pr = precision_recall(real, fake, k=1)
    assert pr.precision == 0.5 and pr.recall == 1.0


def test_same_distribution_scores_high_on_both():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(800, 2, generator=g), torch.randn(800, 2, generator=g)
    pr = precision_recall(real, fake)
    assert pr.precision > 0.85 and pr.recall > 0.85, pr


def test_disjoint_distributions_score_zero():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g) + 20
    pr = precision_recall(real, fake)
    assert pr.precision == 0 and pr.recall == 0


def test_mode_collapse_keeps_precision_and_loses_recall():
    g = torch.Generator().manual_seed(2)
    centres = torch.tensor([[-5.0, 0.0], [5.0, 0.0]])
    real = centres[torch.arange(600) % 2] + 0.5 * torch.randn(600, 2, generator=g)
    fake = centres[0] + 0.5 * torch.randn(600, 2, generator=g)      # one mode only
    pr = precision_recall(real, fake)
    assert pr.precision > 0.85 and 0.4 < pr.recall < 0.6, pr


def test_novelty_is_zero_for_a_copy_and_positive_otherwise():
    train = torch.rand(50, 64)
    d = novelty(torch.cat([train[:3], train[:3] + 0.1]), train)
    assert torch.allclose(d[:3], torch.zeros(3)) and (d[3:] > 0).all()


@pytest.mark.parametrize("call, match", [
    (lambda: precision_recall(torch.zeros(0, 2), torch.zeros(3, 2)), "non-empty"),
    (lambda: precision_recall(torch.rand(5, 2), torch.rand(5, 3)), "same width"),
    (lambda: precision_recall(torch.rand(5, 2), torch.rand(5, 2), k=5), "k must be"),
    (lambda: knn_radii(torch.tensor([[float("nan"), 0.0], [1.0, 1.0]]), k=1), "NaN"),
    (lambda: novelty(torch.rand(4), torch.rand(4, 4)), r"\(n, d\)"),
])
def test_bad_input_is_a_readable_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_digit_features_separate_real_digits_from_noise():
    _, _, X, _ = digits.load()
    real = digits.features(X[:180])
    assert real.shape == (180, 128) and (real >= 0).all()
    noise = digits.features(torch.rand(180, 64, generator=torch.Generator().manual_seed(0)))
    half = len(X[180:360])
    other = digits.features(X[180:180 + half])
    same = precision_recall(real, other)
    fake = precision_recall(real, noise)
    assert same.precision > 0.7 and fake.precision < 0.2, (same, fake)
    with pytest.raises(ValueError, match="shape"):
        digits.features(torch.rand(3, 63))
