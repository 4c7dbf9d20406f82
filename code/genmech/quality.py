"""How good and how varied generated samples are: precision, recall and novelty.

A judge's accuracy says whether samples look like *some* class; it cannot say whether the
samples cover the data, nor whether they merely copy it. Kynkäänniemi et al. (2019) measure
both sides in a feature space. Around every real feature vector :math:`r_i` draw a ball
whose radius is the distance to its :math:`k`-th nearest real neighbour,
:math:`\\rho_k(r_i)`; the union of the balls is an estimate of the data manifold. Then

.. math::

    \\text{precision} = \\frac{1}{M}\\sum_{j=1}^{M}
        \\mathbb 1\\big[\\exists i:\\ \\lVert g_j - r_i\\rVert \\le \\rho_k(r_i)\\big],
    \\qquad
    \\text{recall} = \\frac{1}{N}\\sum_{i=1}^{N}
        \\mathbb 1\\big[\\exists j:\\ \\lVert r_i - g_j\\rVert \\le \\rho_k(g_j)\\big],

the share of generated samples :math:`g_j` that land on the real manifold (fidelity), and
the share of real samples that land on the generated one (diversity). *Novelty* is the
distance from each sample to its nearest training example: zero for a copy.

The *Fréchet distance* of Heusel et al. (2017), the formula behind FID, summarises both
sides in one number: fit a Gaussian to each set of feature vectors and measure how far
apart the two Gaussians are (:func:`frechet_distance`; :func:`frechet_gaussians` is the
closed form, computed with symmetric eigendecompositions only, :func:`sqrtm_psd`).
Features for the 8 x 8 digits come from :func:`genmech.digits.features`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between the rows of ``a`` and ``b``, computed exactly (a copy is 0)."""
    # cdist's default takes a faster matrix-product route that leaves ~1e-3 for equal rows
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _features(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array of feature vectors, "
                         f"got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return x


def knn_radii(features, k: int = 3) -> torch.Tensor:
    """Distance from each vector to its ``k``-th nearest neighbour among the others."""
    x = _features(features, "features")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k < len(x):
        raise ValueError(f"k must be an integer from 1 to {len(x) - 1} (one less than the "
                         f"number of vectors), got {k!r}")
    d = distances(x, x)
    return d.kthvalue(k + 1, dim=1).values      # +1: the nearest vector is itself, at 0


def coverage_of(points, centres, radii) -> torch.Tensor:
    """For each point, whether it lies inside at least one ball (centre, radius)."""
    return (distances(points, centres) <= radii[None, :]).any(dim=1)


@dataclass
class PrecisionRecall:
    precision: float    # share of generated samples on the real manifold (fidelity)
    recall: float       # share of real samples on the generated manifold (diversity)

    def __str__(self):
        return f"precision {self.precision:.2f}, recall {self.recall:.2f}"


def precision_recall(real_features, fake_features, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall of Kynkäänniemi et al. (2019) with ``k`` neighbours."""
    real = _features(real_features, "real_features")
    fake = _features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features must have the same width, got "
                         f"{real.shape[1]} and {fake.shape[1]}")
    precision = coverage_of(fake, real, knn_radii(real, k)).float().mean()
    recall = coverage_of(real, fake, knn_radii(fake, k)).float().mean()
    return PrecisionRecall(float(precision), float(recall))


def novelty(samples, training) -> torch.Tensor:
    """Distance from each sample to its nearest training example (0 means a copy)."""
    samples = _features(samples, "samples")
    training = _features(training, "training")
    if samples.shape[1] != training.shape[1]:
        raise ValueError(f"samples and training data must have the same width, got "
                         f"{samples.shape[1]} and {training.shape[1]}")
    return distances(samples, training).min(dim=1).values


# --------------------------------------------------------------------------- Fréchet distance
def sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix.

    With the eigendecomposition ``A = U diag(λ) U^T`` (``torch.linalg.eigh``), the root is
    ``U diag(√λ) U^T``; eigenvalues that rounding pushed slightly below zero count as 0.
    """
    a = torch.as_tensor(matrix, dtype=torch.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"a square matrix is needed, got shape {tuple(a.shape)}")
    a = (a + a.T) / 2                                     # symmetric up to rounding
    lam, u = torch.linalg.eigh(a)
    return (u * lam.clamp(min=0).sqrt()) @ u.T


def frechet_gaussians(mu1, cov1, mu2, cov2) -> float:
    """The squared Fréchet (2-Wasserstein) distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``:

    ``||mu1 - mu2||^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^{1/2})``.

    ``cov1 cov2`` is not symmetric, but it has the same eigenvalues as the symmetric PSD
    matrix ``S cov2 S`` with ``S = cov1^{1/2}``, so the trace of its root is the trace of
    ``(S cov2 S)^{1/2}``: two symmetric eigendecompositions, no general matrix root.
    """
    mu1, mu2 = (torch.as_tensor(m, dtype=torch.float64) for m in (mu1, mu2))
    cov1, cov2 = (torch.as_tensor(c, dtype=torch.float64) for c in (cov1, cov2))
    d = mu1.shape[0]
    if mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(f"means of shape (d,) and covariances of shape (d, d) are needed, got "
                         f"{tuple(mu1.shape)}, {tuple(cov1.shape)}, {tuple(mu2.shape)}, {tuple(cov2.shape)}")
    s = sqrtm_psd(cov1)
    cross = sqrtm_psd(s @ cov2 @ s).trace()
    return float(((mu1 - mu2) ** 2).sum() + cov1.trace() + cov2.trace() - 2 * cross)


def frechet_distance(real_features, fake_features) -> float:
    """The Fréchet distance of Heusel et al. (2017), the formula of FID, in any feature space.

    Fit a Gaussian to each set of feature vectors (mean and covariance) and return
    :func:`frechet_gaussians` of the two. 0 for identical sets; it grows both when the
    samples are off the data (the means and covariances differ) and when they lack variety
    (too small a covariance). With few vectors it is biased upwards: compare values
    computed from the same numbers of vectors.
    """
    real = _features(real_features, "real_features").double()
    fake = _features(fake_features, "fake_features").double()
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features must have the same width, got "
                         f"{real.shape[1]} and {fake.shape[1]}")
    if len(real) < 2 or len(fake) < 2:
        raise ValueError("a covariance needs at least two feature vectors in each set")
    return frechet_gaussians(real.mean(0), torch.cov(real.T), fake.mean(0), torch.cov(fake.T))
