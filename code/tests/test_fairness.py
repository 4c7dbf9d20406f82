"""genmech.fairness: skewed data, amplification, the hiring data, and group fairness metrics
that must agree with fairlearn's (Weerts et al., 2023)."""
import math

import numpy as np
import pytest
import torch
from fairlearn.metrics import demographic_parity_difference as fl_dpd
from fairlearn.metrics import equalized_odds_difference as fl_eod

from genmech import digits, fairness, gan


# --------------------------------------------------------------------------- skewed data
@pytest.mark.parametrize("share", [0.01, 0.05, 0.3, 0.5])
def test_skew_gives_the_share_asked_for(share):
    X, y, _, _ = digits.load()
    Xs, ys = fairness.skew(X, y, 3, share, seed=1)
    shares = fairness.class_shares(ys.numpy())
    assert abs(shares[3] - share) < 0.005
    others = np.delete(shares, 3)
    assert others.max() / others.min() < 1.3          # the others keep their relative sizes
    assert len(Xs) == len(ys)
    # the kept rows are the rows of the original set, with their labels
    idx = torch.cdist(Xs[:50], X).argmin(1)
    assert torch.equal(y[idx], ys[:50])


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1, 1.5, float("nan"), "a", None, True])
def test_a_share_outside_zero_one_is_refused(share):
    X, y, _, _ = digits.load()
    with pytest.raises(ValueError, match="between 0 and 1"):
        fairness.skew(X, y, 3, share)


def test_an_unknown_class_is_refused():
    X, y, _, _ = digits.load()
    with pytest.raises(ValueError, match="unknown class"):
        fairness.skew(X, y, 11, 0.1)


def test_amplification_and_shares():
    assert np.allclose(fairness.class_shares([0, 0, 1, 3], 4), [0.5, 0.25, 0, 0.25])
    a = fairness.amplification([0.2, 0.8], [0.1, 0.9])
    assert np.allclose(a, [2.0, 0.8 / 0.9])
    with pytest.raises(ValueError, match="positive training share"):
        fairness.amplification([0.5, 0.5], [0.0, 1.0])
    with pytest.raises(ValueError, match="no labels"):
        fairness.class_shares([])


def test_balanced_sample_balances_the_classes():
    y = np.array([0] * 900 + [1] * 100)
    idx = fairness.balanced_sample(y, 20000, seed=0)
    share = (y[idx] == 1).mean()
    assert abs(share - 0.5) < 0.02                    # 0.5 +- 5 standard errors (0.0035)


def test_dropping_a_class_costs_what_the_formula_says():
    for pi in (0.01, 0.05, 0.2):
        closed = 0.5 * (pi * math.log(2) + (1 - pi) * math.log((1 - pi) / (1 - pi / 2))
                        + math.log(1 / (1 - pi / 2)))
        assert gan.js_divergence([pi, 1 - pi], [0, 1]) == pytest.approx(closed, rel=1e-12)


# --------------------------------------------------------------------------- text
def test_tempered_share():
    p = np.linspace(0.01, 0.99, 50)
    assert np.allclose(fairness.tempered_share(p, 1.0), p)
    cold = fairness.tempered_share(p, 0.5)
    assert (np.abs(cold - 0.5) >= np.abs(p - 0.5) - 1e-12).all()   # away from 1/2
    assert fairness.tempered_share(0.9, 0.5) == pytest.approx(0.81 / 0.82)
    with pytest.raises(ValueError):
        fairness.tempered_share(0.5, 0.0)


def test_occupation_corpus_has_the_stated_skew():
    text = fairness.occupation_corpus(6000, seed=3)
    lines = [line.split() for line in text.splitlines()]
    for job, rate in fairness.SHE_RATE.items():
        she = [w[3] == "she" for w in lines if w[1] == job]
        se = math.sqrt(rate * (1 - rate) / len(she))
        assert abs(np.mean(she) - rate) < 4 * se
    with pytest.raises(ValueError, match="non-empty"):
        fairness.occupation_corpus(10, {"": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        fairness.occupation_corpus(10, {"nurse": 1.2})


# --------------------------------------------------------------------------- hiring and metrics
def test_hiring_data_is_biased_as_documented():
    h = fairness.hiring_data(20000, penalty=1.0, seed=0)
    a, b = h.group == "A", h.group == "B"
    assert abs(b.mean() - 0.4) < 0.02
    # skill and experience do not depend on the group; the proxy does
    assert abs(h.X[a, 0].mean() - h.X[b, 0].mean()) < 0.05
    assert h.X[b, 2].mean() - h.X[a, 2].mean() > 0.9
    # group-blind decisions have equal rates; historical ones penalise B only
    assert abs(h.merit[a].mean() - h.merit[b].mean()) < 0.03
    assert (h.y[a] == h.merit[a]).all() and h.y[b].mean() < h.merit[b].mean() - 0.1
    no_penalty = fairness.hiring_data(2000, penalty=0.0, seed=0)
    assert (no_penalty.y == no_penalty.merit).all()


def random_predictions(n, seed, groups=("A", "B", "C")):
    rng = np.random.default_rng(seed)
    g = rng.choice(groups, n)
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.7, y, 1 - y)
    p = np.where(g == groups[0], p, rng.integers(0, 2, n))
    return y, p, g


@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_fairlearn(seed):
    y, p, g = random_predictions(500, seed, groups=("A", "B", "C")[: 2 + seed % 2])
    assert fairness.demographic_parity_difference(p, g) == pytest.approx(
        fl_dpd(y, p, sensitive_features=g), abs=1e-12)
    assert fairness.equalized_odds_difference(y, p, g) == pytest.approx(
        fl_eod(y, p, sensitive_features=g), abs=1e-12)


def test_metrics_agree_with_fairlearn_on_the_hiring_model():
    from sklearn.linear_model import LogisticRegression
    h = fairness.hiring_data(3000, seed=5)
    p = LogisticRegression().fit(h.X, h.y).predict(h.X)
    assert fairness.demographic_parity_difference(p, h.group) == pytest.approx(
        fl_dpd(h.y, p, sensitive_features=h.group), abs=1e-12)
    assert fairness.equalized_odds_difference(h.y, p, h.group) == pytest.approx(
        fl_eod(h.y, p, sensitive_features=h.group), abs=1e-12)
    assert fairness.demographic_parity_difference(p, h.group) > 0.05     # the bias is learned


def test_a_perfect_classifier_is_fair_in_odds_but_not_in_parity():
    h = fairness.hiring_data(4000, seed=2)
    assert fairness.equalized_odds_difference(h.y, h.y, h.group) == 0
    assert fairness.demographic_parity_difference(h.y, h.group) > 0.1


@pytest.mark.parametrize("groups", [["A", "", "B", "A"], ["A", None, "B", "A"], ["A", "  ", "B", "B"],
                                    ["A", float("nan"), "B", "A"]])
def test_an_empty_group_label_is_refused(groups):
    with pytest.raises(ValueError, match="empty or missing"):
        fairness.demographic_parity_difference([1, 0, 1, 0], groups)


def test_an_unknown_group_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="unknown group 'C'"):
        fairness.selection_rate([1, 0, 1], ["A", "B", "A"], "C")
    with pytest.raises(ValueError, match="expected 2"):
        fairness.group_rates([1, 0], [1, 0, 1], ["A", "B"])
    with pytest.raises(ValueError, match="0s and 1s"):
        fairness.group_rates([1, 0], [2, 0], ["A", "B"])
    with pytest.raises(ValueError, match="empty"):
        fairness.demographic_parity_difference([], [])
    with pytest.raises(ValueError, match="undefined"):
        fairness.equalized_odds_difference([1, 1, 0], [1, 0, 0], ["A", "A", "B"])


@pytest.mark.parametrize("seed", range(3))
def test_chouldechovas_identity_holds_for_any_classifier(seed):
    y, p, g = random_predictions(2000, seed, groups=("A", "B"))
    for r in fairness.group_rates(y, p, g).values():
        assert fairness.chouldechova_fpr(r["base_rate"], r["ppv"], r["fnr"]) == pytest.approx(r["fpr"], rel=1e-9)
