"""Tests of genmech.pipeline: scaling, conditioning, augmentation, leakage, learning curves."""
import math

import numpy as np
import pytest
import torch

from genmech import digits, pipeline


def test_standard_scaler_gives_mean_zero_unit_variance_on_training_rows_only():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(200, 3, generator=gen) * torch.tensor([1.0, 100.0, 0.01]) + 5
    s = pipeline.Scaler("standard").fit(X)
    Z = s.transform(X)
    assert torch.allclose(Z.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(Z.std(0), torch.ones(3), atol=1e-4)
    # the statistics are the training rows', not the new rows'
    assert torch.allclose(s.transform(X + 1).mean(0), 1 / X.std(0), atol=1e-3)


def test_minmax_and_constant_column():
    X = torch.tensor([[0.0, 2.0], [10.0, 2.0], [5.0, 2.0]])
    Z = pipeline.Scaler("minmax").fit(X).transform(X)
    assert Z[:, 0].tolist() == [0.0, 1.0, 0.5]
    assert torch.isfinite(Z).all() and (Z[:, 1] == 0).all()      # constant column: no division by 0
    with pytest.raises(ValueError, match="unknown scaling"):
        pipeline.Scaler("log")
    with pytest.raises(ValueError, match="call fit"):
        pipeline.Scaler().transform(X)


def test_condition_number_of_scaled_columns():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(5000, 2, generator=gen)
    assert pipeline.hessian_condition(X) == pytest.approx(1.0, abs=0.15)   # H ~ identity
    stretched = X * torch.tensor([100.0, 1.0])
    assert pipeline.hessian_condition(stretched) > 5000                      # ~ 100^2


def test_standardizing_speeds_up_gradient_descent():
    X, y = pipeline.wine()
    raw = pipeline.steps_to_loss(X, y, 1e-5, 0.3, max_steps=300)
    std = pipeline.steps_to_loss(pipeline.Scaler().fit(X).transform(X), y, 1.0, 0.3, max_steps=300)
    assert raw is None and std is not None


def test_augment_keeps_shape_and_range_and_identity_is_identity():
    X = digits.load()[0][:20]
    A = pipeline.augment(X, 3, seed=1)
    assert A.shape == (60, 64) and A.min() >= 0 and A.max() <= 1
    assert not torch.allclose(A[:20], X)
    same = pipeline.augment(X, 1, max_shift=0.0, max_degrees=0.0)
    assert torch.allclose(same, X, atol=1e-5)
    with pytest.raises(ValueError):
        pipeline.augment(X[:, :10], 1)
    with pytest.raises(ValueError):
        pipeline.augment(X, 0)


def test_corrupt_labels_changes_exactly_the_fraction_and_always_to_another_class():
    y = torch.arange(1000) % 10
    noisy = pipeline.corrupt_labels(y, 0.3)
    assert (noisy != y).sum().item() == 300
    assert noisy.min() >= 0 and noisy.max() <= 9
    with pytest.raises(ValueError):
        pipeline.corrupt_labels(y, 1.5)


def test_repeat_subset_has_the_size_and_the_number_of_distinct_examples():
    X, y = digits.load()[:2]
    Xr, yr = pipeline.repeat_subset(X, y, 7, 50)
    assert len(Xr) == 50 and len(torch.unique(Xr, dim=0)) == 7


def test_power_law_fit_recovers_known_parameters():
    n = np.array([10, 30, 100, 300, 1000, 3000, 10000])
    fit = pipeline.fit_power_law(n, pipeline.power_law(n, 3.0, 0.5, 0.02))
    assert fit["b"] == pytest.approx(0.5, rel=0.05) and fit["c"] == pytest.approx(0.02, abs=0.003)
    with pytest.raises(ValueError):
        pipeline.fit_power_law([1, 2], [1, 2])


def test_clean_text():
    raw = "a \r\nb\t c\n\n\n\nd é\n\n"
    assert pipeline.clean_text(raw) == "a\nb     c\n\nd é\n"
    assert pipeline.clean_text(raw, allowed=set("abcd \n")) == "a\nb     c\n"   # the paragraph with é is dropped


def test_leak_moves_a_fraction_of_test_paragraphs_into_training():
    test = "\n\n".join(f"p{i}" for i in range(10)) + "\n"
    train, leaked, clean = pipeline.leak("t\n", test, 0.3, copies=2)
    assert len(leaked.split("\n\n")) == 3 and len(clean.split("\n\n")) == 7
    assert train.count(leaked.strip().split("\n\n")[0]) == 2


def test_ngram_model_is_a_distribution_and_remembers():
    text = "the cat sat on the mat. the cat ate."
    m = pipeline.NGramLM(order=3).fit(text)
    total = sum(m.prob("the c", c) for c in m.chars)
    assert total < 1 and total > 0.9          # the rest is kept for unseen characters
    assert sum(m.prob("the c", c) for c in m.chars) + m.prob("the c", "#") <= 1 + 1e-9
    assert m.loss("the cat sat") < pipeline.NGramLM(order=1).fit(text).loss("the cat sat")
    with pytest.raises(ValueError, match="empty"):
        pipeline.NGramLM().fit("")


def test_ngram_probabilities_sum_to_one_with_the_unseen_mass():
    text = "abracadabra"
    m = pipeline.NGramLM(order=2, beta=0.5).fit(text)
    for ctx in ("", "a", "ab", "zz"):
        seen = sum(m.prob(ctx, c) for c in m.chars)
        # p_0 gives 1/(V+1) to each seen char and 1/(V+1) to "anything else"; that share stays unseen
        assert 0.0 < 1 - seen < 1.0 / (len(m.chars) + 1) + 1e-9


def test_stdlib_corpus_is_a_different_text():
    text = pipeline.function_docstrings(("json",))
    assert len(text) > 1000 and "dumps" in text
    with pytest.raises(ValueError):
        pipeline.function_docstrings(("no_such_package_xyz",))
