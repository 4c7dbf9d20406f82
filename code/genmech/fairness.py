"""Bias in, bias out: skewed training data, amplification, and group fairness metrics.

The chapter *Challenges and limitations* reads this module (section *Bias in, bias out*).
It holds

* :func:`skew` and :func:`class_shares`: a training set with one class made a minority,
  and the share of each class in a set of labels; :func:`amplification`, the generated
  share of each class divided by its training share; :func:`balanced_sample`, the
  resampling that gives every class the same weight again;
* :func:`tempered_share`: what sampling at temperature ``tau`` does to a two-way choice
  (the text experiment), and :func:`occupation_corpus`, the skewed sentences it trains on;
* :func:`hiring_data`: a synthetic "historical hiring" data set, generated in code, whose
  labels were biased against one group (the generating process is documented there);
* :func:`group_rates`, :func:`demographic_parity_difference` and
  :func:`equalized_odds_difference`: group fairness metrics, written from their
  definitions (Hardt et al., 2016); ``code/tests/test_fairness.py`` checks them against
  fairlearn's (Weerts et al., 2023);
* :func:`chouldechova_fpr`: the identity behind the impossibility results of Chouldechova
  (2017) and Kleinberg et al. (2017).

numpy only. The demos and figures are in :mod:`genmech.challenges_demos`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# --------------------------------------------------------------------------- checking input
def check_share(share, name: str = "share") -> float:
    """A proportion strictly between 0 and 1, or a readable ``ValueError``."""
    if isinstance(share, bool) or not isinstance(share, (int, float, np.number)):
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {share!r}")
    if not 0.0 < float(share) < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1 (a proportion), got {share!r}")
    return float(share)


def check_groups(groups, n: int | None = None) -> np.ndarray:
    """Group labels as an array of strings; refuses an empty or missing label."""
    g = np.asarray(groups, dtype=object).ravel()
    if g.size == 0:
        raise ValueError("groups is empty: give one group label per example")
    if n is not None and g.size != n:
        raise ValueError(f"got {g.size} group labels for {n} examples; give one per example")
    bad = [x for x in g if x is None or (isinstance(x, float) and np.isnan(x)) or str(x).strip() == ""]
    if bad:
        raise ValueError(f"{len(bad)} group label(s) are empty or missing; every example needs a group")
    return g.astype(str)


def _binary(values, name: str, n: int | None = None) -> np.ndarray:
    v = np.asarray(values).ravel()
    if n is not None and v.size != n:
        raise ValueError(f"{name} has {v.size} entries, expected {n}")
    if not np.isin(v, (0, 1)).all():
        raise ValueError(f"{name} must hold 0s and 1s only")
    return v.astype(int)


# --------------------------------------------------------------------------- skewed data
def skew(X, y, minority: int, share: float, seed: int = 0):
    """A subset of ``(X, y)`` in which class ``minority`` makes up ``share`` of the examples
    and the other classes keep their relative sizes.

    Every example of the other classes is kept and ``n_min = share / (1 - share) · n_others``
    of the minority are drawn; when the minority has fewer than that (a large share), all
    of it is kept and the same fraction of each other class is drawn, ``n_min (1 - share) / share``
    in all.
    Returns ``(X, y)`` (same types as given), shuffled with ``seed``.
    """
    share = check_share(share)
    y_np = np.asarray(y).ravel()
    labels = sorted(set(y_np.tolist()))
    if isinstance(minority, bool) or minority not in labels:
        raise ValueError(f"unknown class {minority!r}: the labels hold {labels}")
    rng = np.random.default_rng(seed)
    minority_idx = np.flatnonzero(y_np == minority)
    others = np.flatnonzero(y_np != minority)
    n_min = int(round(share / (1 - share) * len(others)))
    if n_min > len(minority_idx):
        n_min = len(minority_idx)
        keep_fraction = n_min * (1 - share) / share / len(others)
        others = np.concatenate([rng.choice(idx, int(round(keep_fraction * len(idx))), replace=False)
                                 for idx in (np.flatnonzero(y_np == c) for c in labels if c != minority)])
    if n_min < 1:
        raise ValueError(f"share {share} leaves no example of class {minority}; choose a larger share")
    keep = np.concatenate([others, rng.choice(minority_idx, n_min, replace=False)])
    keep = rng.permutation(keep)
    return X[keep], y[keep]


def class_shares(labels, classes: int = 10) -> np.ndarray:
    """The fraction of ``labels`` (integers in ``[0, classes)``) in each class, shape (classes,)."""
    labels = np.asarray(labels).ravel()
    if labels.size == 0:
        raise ValueError("no labels to count")
    return np.bincount(labels.astype(int), minlength=classes)[:classes] / labels.size


def amplification(generated_shares, training_shares) -> np.ndarray:
    """``generated share / training share`` per class: 1 reproduces the data, above 1
    amplifies a class, below 1 suppresses it (0: the class was dropped)."""
    g = np.asarray(generated_shares, dtype=float)
    t = np.asarray(training_shares, dtype=float)
    if g.shape != t.shape:
        raise ValueError(f"shares of different shapes: {g.shape} and {t.shape}")
    if (t <= 0).any():
        raise ValueError("every class needs a positive training share to measure its amplification")
    return g / t


def balanced_sample(y, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` examples drawn with replacement, each with probability proportional
    to ``1 / (size of its class)``: every class is drawn equally often on average.

    Resampling (or, equivalently in expectation, weighting each example's loss by
    ``1 / count``) is the simplest mitigation of a skewed training set.
    """
    y = np.asarray(y).ravel()
    if y.size == 0 or n < 1:
        raise ValueError("need labels and n >= 1")
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    p = 1.0 / counts[inverse]
    return np.random.default_rng(seed).choice(y.size, n, replace=True, p=p / p.sum())


# --------------------------------------------------------------------------- skewed text
def tempered_share(p, tau: float):
    """The probability of the first of two options after sampling at temperature ``tau``.

    Sampling at temperature ``tau`` draws option ``i`` with probability proportional to
    ``p_i ** (1 / tau)``. For two options with probabilities ``p`` and ``1 - p``:
    ``p_tau = p^(1/tau) / (p^(1/tau) + (1 - p)^(1/tau))``. For ``tau < 1`` the majority
    option gains (``tau -> 0`` is greedy: always the majority); ``tau = 1`` is the model.
    """
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau!r}")
    p = np.asarray(p, dtype=float)
    a, b = p ** (1 / tau), (1 - p) ** (1 / tau)
    return a / (a + b)


# The stated skew of the text experiment: P(pronoun = "she" | occupation) in the corpus.
SHE_RATE = {"nurse": 0.9, "teacher": 0.7, "writer": 0.5, "doctor": 0.3, "pilot": 0.2, "engineer": 0.1}


def occupation_corpus(sentences: int = 6000, rates: dict | None = None, seed: int = 0) -> str:
    """Sentences ``"the <occupation> said <pronoun> was late.\\n"`` with the pronoun
    drawn as "she" with probability ``rates[occupation]``, else "he"; occupations uniform.

    A corpus with a stated skew: we know exactly what a model trained on it has seen.
    """
    rates = SHE_RATE if rates is None else rates
    if not rates:
        raise ValueError("rates is empty: give P(she) for at least one occupation")
    for job, r in rates.items():
        if not isinstance(job, str) or not job.strip():
            raise ValueError("every occupation needs a non-empty name")
        check_share(r, f"the rate of 'she' for {job!r}")
    rng = np.random.default_rng(seed)
    jobs = list(rates)
    lines = []
    for i in rng.integers(len(jobs), size=sentences):
        job = jobs[i]
        pronoun = "she" if rng.random() < rates[job] else "he"
        lines.append(f"the {job} said {pronoun} was late.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- a hiring data set
@dataclass
class Hiring:
    """A synthetic hiring data set. ``X`` holds the features a screening model sees."""

    X: np.ndarray          # (n, 3): skill test score, years of experience (standardised), proxy
    group: np.ndarray      # (n,) "A" or "B"
    y: np.ndarray          # (n,) the historical decision: 1 = hired
    merit: np.ndarray      # (n,) what a group-blind decision would have been
    features = ("skill", "experience", "proxy")


def hiring_data(n: int = 4000, penalty: float = 1.0, share_b: float = 0.4, seed: int = 0) -> Hiring:
    """Generate ``n`` past applicants and the (biased) decisions taken on them.

    * group: "B" with probability ``share_b``, else "A";
    * skill ~ N(0, 1) and experience ~ N(0, 1), **the same in both groups**;
    * proxy = 1[group = B] + N(0, 0.5²): a feature that carries the group without naming
      it (a postcode, a club, a gap in a CV);
    * merit = 1[skill + 0.5 experience + N(0, 0.5²) > 0.5]: the group-blind decision;
    * y = 1[skill + 0.5 experience + N(0, 0.5²) − penalty · 1[group = B] > 0.5], with the
      same noise draw as merit: the historical decision, which held ``penalty`` standard
      deviations of skill against group B.

    A model trained on ``(skill, experience, proxy)`` never sees the group, yet can learn
    the penalty through the proxy.
    """
    share_b = check_share(share_b, "share_b")
    if not isinstance(n, (int, np.integer)) or n < 10:
        raise ValueError(f"n must be an int >= 10, got {n!r}")
    if not np.isfinite(penalty) or penalty < 0:
        raise ValueError(f"penalty must be a finite number >= 0, got {penalty!r}")
    rng = np.random.default_rng(seed)
    b = rng.random(n) < share_b
    skill, experience = rng.normal(size=n), rng.normal(size=n)
    proxy = b + rng.normal(0, 0.5, n)
    score = skill + 0.5 * experience + rng.normal(0, 0.5, n)
    merit = (score > 0.5).astype(int)
    y = (score - penalty * b > 0.5).astype(int)
    X = np.stack([skill, experience, proxy], 1)
    return Hiring(X, np.where(b, "B", "A"), y, merit)


# --------------------------------------------------------------------------- metrics
def group_rates(y_true, y_pred, groups) -> dict[str, dict[str, float]]:
    """Per group: its size, base rate P(Y=1), selection rate P(Ŷ=1), true positive rate
    P(Ŷ=1 | Y=1), false positive rate P(Ŷ=1 | Y=0), false negative rate 1 − TPR and
    positive predictive value P(Y=1 | Ŷ=1). A rate with an empty condition is NaN."""
    g = check_groups(groups)
    yt, yp = _binary(y_true, "y_true", g.size), _binary(y_pred, "y_pred", g.size)

    def ratio(num, den):
        return float(num.sum() / den.sum()) if den.sum() else float("nan")

    out = {}
    for name in sorted(set(g)):
        m = g == name
        t, p = yt[m], yp[m]
        tpr = ratio(p * t, t)
        out[name] = dict(n=int(m.sum()), base_rate=float(t.mean()), selection_rate=float(p.mean()),
                         tpr=tpr, fpr=ratio(p * (1 - t), 1 - t), fnr=1 - tpr, ppv=ratio(p * t, p))
    return out


def selection_rate(y_pred, groups, group: str) -> float:
    """P(Ŷ = 1 | group): the share of ``group`` that the decisions select."""
    g = check_groups(groups)
    known = sorted(set(g))
    if group not in known:
        raise ValueError(f"unknown group {group!r}; the data has groups {known}")
    return float(_binary(y_pred, "y_pred", g.size)[g == group].mean())


def demographic_parity_difference(y_pred, groups) -> float:
    """max − min over groups of the selection rate P(Ŷ = 1 | group) (0: parity)."""
    g = check_groups(groups)
    rates = [selection_rate(y_pred, g, name) for name in sorted(set(g))]
    return max(rates) - min(rates)


def equalized_odds_difference(y_true, y_pred, groups) -> float:
    """The larger of the between-group gaps (max − min) in true positive rate and in false
    positive rate (0: equalized odds, Hardt et al., 2016)."""
    rates = group_rates(y_true, y_pred, groups).values()
    gaps = []
    for key in ("tpr", "fpr"):
        values = [r[key] for r in rates]
        if any(np.isnan(values)):
            raise ValueError(f"a group has no examples with y_true = {1 if key == 'tpr' else 0}; "
                             "its error rates are undefined")
        gaps.append(max(values) - min(values))
    return max(gaps)


def chouldechova_fpr(base_rate, ppv, fnr):
    """The false positive rate that a group's base rate ``p``, positive predictive value and
    false negative rate force (Chouldechova, 2017):

        FPR = p / (1 − p) · (1 − PPV) / PPV · (1 − FNR).

    Two groups with different base rates and equal PPV and FNR must therefore have
    different FPRs: a classifier cannot equalise all three unless it is perfect.
    """
    p, ppv, fnr = (np.asarray(v, dtype=float) for v in (base_rate, ppv, fnr))
    if ((p <= 0) | (p >= 1)).any() or ((ppv <= 0) | (ppv > 1)).any():
        raise ValueError("base_rate must be in (0, 1) and ppv in (0, 1]")
    return p / (1 - p) * (1 - ppv) / ppv * (1 - fnr)
