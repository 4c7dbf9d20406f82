"""Gradient descent and its descendants: the hand-written rules against torch.optim."""
import numpy as np
import pytest
import torch

from genmech import optim


@pytest.mark.parametrize("name", list(optim.SURFACES))
def test_surface_gradient_matches_finite_differences(name):
    s = optim.SURFACES[name]
    w = np.array([0.3, -0.7])
    eps = 1e-6
    numeric = [(float(s(torch.tensor(w + eps * e))) - float(s(torch.tensor(w - eps * e)))) / (2 * eps)
               for e in np.eye(2)]
    assert np.allclose(s.gradient(w), numeric, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(optim.SURFACES))
def test_minima_are_minima(name):
    s = optim.SURFACES[name]
    for m in s.minima:
        assert float(s(torch.tensor(m, dtype=torch.float64))) < 1e-8
        assert np.abs(s.gradient(m)).max() < 1e-4


RULES = [
    (lambda: optim.GD(1e-3), lambda p: torch.optim.SGD(p, lr=1e-3)),
    (lambda: optim.Momentum(1e-3, 0.9), lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9)),
    (lambda: optim.RMSProp(0.01, rho=0.99), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99)),
    (lambda: optim.Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
]


@pytest.mark.parametrize("ours, theirs", RULES, ids=["GD", "Momentum", "RMSProp", "Adam"])
def test_rules_follow_the_same_path_as_torch_optim(ours, theirs):
    s = optim.SURFACES["rosenbrock"]
    start = (-1.5, 2.5)
    path = optim.descend(s, ours(), start, 50)
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = theirs([w])
    for step in range(50):
        opt.zero_grad()
        s(w).backward()
        opt.step()
        assert np.allclose(path[step + 1], w.detach().numpy(), rtol=1e-6, atol=1e-8), step


def test_rules_reject_bad_hyperparameters():
    with pytest.raises(ValueError, match="learning rate must be positive"):
        optim.GD(0.0)
    with pytest.raises(ValueError, match="momentum beta"):
        optim.Momentum(0.1, beta=1.0)
    with pytest.raises(ValueError, match="unknown surface 'saddle'"):
        optim.get_surface("saddle")


def test_race_converges_on_the_bowl_and_figure_changes():
    race = optim.OptimizerRace(surface="bowl", lr=0.1, adaptive_lr=0.05)
    before = [np.array(t.x) for t in race.figure().data[1:5]]
    race.step(300)
    assert max(race.metrics.last.values()) < 1e-3
    after = [np.array(t.x) for t in race.figure().data[1:5]]
    assert all(len(a) > len(b) for a, b in zip(after, before))


def test_momentum_beats_gd_in_the_valley():
    race = optim.OptimizerRace(surface="valley", lr=0.05, momentum=0.9)
    last = race.step(200)
    assert last["Momentum"] < 1e-3 < last["GD"]


def test_race_reports_divergence_without_raising():
    race = optim.OptimizerRace(surface="rosenbrock", lr=0.5)
    race.step(100)
    assert race.diverged and "smaller learning rate" in race.status
    race.figure()                               # still drawable
