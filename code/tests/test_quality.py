"""Precision, recall and novelty (genmech.quality) on cases whose answer is known."""
import pytest
import torch

from genmech import digits
from genmech.quality import (frechet_distance, frechet_gaussians, knn_radii, novelty,
                              precision_recall, sqrtm_psd)


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


# --------------------------------------------------------------------------- Fréchet distance
def test_sqrtm_psd_squares_back_and_ignores_tiny_negative_eigenvalues():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 4, generator=g, dtype=torch.float64)
    m = a @ a.T                                     # rank 4: two zero eigenvalues
    r = sqrtm_psd(m)
    assert torch.allclose(r @ r, m, atol=1e-9) and torch.allclose(r, r.T)
    assert torch.isfinite(sqrtm_psd(m - 1e-12 * torch.eye(6, dtype=torch.float64))).all()


def test_frechet_of_commuting_gaussians_is_the_closed_form():
    """Covariances with the same eigenvectors: Tr(C1 + C2 - 2 (C1 C2)^½) = Σ (√a_i - √b_i)²."""
    g = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    a, b = torch.rand(5, generator=g, dtype=torch.float64) + 0.1, torch.rand(5, generator=g, dtype=torch.float64) * 3
    mu1, mu2 = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    expected = ((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum()
    got = frechet_gaussians(mu1, q @ torch.diag(a) @ q.T, mu2, q @ torch.diag(b) @ q.T)
    assert got == pytest.approx(float(expected), rel=1e-9)


def test_frechet_of_non_commuting_2d_gaussians_is_the_closed_form():
    """For 2 x 2 matrices, Tr √M = √(Tr M + 2 √det M) (M = C1 C2 has two non-negative
    eigenvalues λ1, λ2: (√λ1 + √λ2)² = Tr M + 2 √(λ1 λ2))."""
    c1 = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    c2 = torch.tensor([[1.0, -0.7], [-0.7, 3.0]], dtype=torch.float64)
    m = c1 @ c2
    tr_root = torch.sqrt(m.trace() + 2 * torch.sqrt(torch.linalg.det(m)))
    mu1, mu2 = torch.tensor([0.0, 1.0]), torch.tensor([2.0, -1.0])
    expected = 8.0 + c1.trace() + c2.trace() - 2 * tr_root
    assert frechet_gaussians(mu1, c1, mu2, c2) == pytest.approx(float(expected), rel=1e-9)
    # a distance: symmetric in its arguments
    assert frechet_gaussians(mu2, c2, mu1, c1) == pytest.approx(float(expected), rel=1e-9)


def test_frechet_distance_from_samples_approaches_the_gaussians():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(20000, 3, generator=g)
    fake = torch.randn(20000, 3, generator=g) * 2 + torch.tensor([1.0, 0.0, 0.0])
    # exact: shift 1, each of 3 dimensions (1 - 2)² = 1
    assert frechet_distance(real, fake) == pytest.approx(4.0, abs=0.15)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_sees_a_collapse_that_precision_misses():
    """Samples that copy one real point score full precision but a large Fréchet distance."""
    g = torch.Generator().manual_seed(3)
    real = torch.randn(500, 2, generator=g)
    collapsed = real[:1].repeat(500, 1) + 0.01 * torch.randn(500, 2, generator=g)
    assert precision_recall(real, collapsed).precision == 1.0
    assert frechet_distance(real, collapsed) > 1.5 > frechet_distance(real, torch.randn(500, 2, generator=g))


@pytest.mark.parametrize("call, match", [
    (lambda: frechet_distance(torch.zeros(5, 2), torch.zeros(5, 3)), "same width"),
    (lambda: frechet_distance(torch.zeros(1, 2), torch.zeros(5, 2)), "at least two"),
    (lambda: frechet_gaussians(torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2)), "shape"),
    (lambda: sqrtm_psd(torch.zeros(2, 3)), "square"),
])
def test_frechet_bad_input_is_a_readable_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
