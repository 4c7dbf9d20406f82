"""Gradient descent and its descendants: the hand-written rules against torch.optim."""
import numpy as np
import pytest
import torch

from genmech import optim, optim_demos, plotting
from waiting import until


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
    race = optim_demos.OptimizerRace(surface="bowl", lr=0.1, adaptive_lr=0.05)
    before = [np.array(t.x) for t in race.figure().data[1:5]]
    race.step(300)
    assert max(race.metrics.last.values()) < 1e-3
    after = [np.array(t.x) for t in race.figure().data[1:5]]
    assert all(len(a) > len(b) for a, b in zip(after, before))


def test_momentum_beats_gd_in_the_valley():
    race = optim_demos.OptimizerRace(surface="valley", lr=0.05, momentum=0.9)
    last = race.step(200)
    assert last["Momentum"] < 1e-3 < last["GD"]


def test_race_reports_divergence_without_raising():
    race = optim_demos.OptimizerRace(surface="rosenbrock", lr=0.5)
    race.step(100)
    assert race.diverged and "smaller learning rate" in race.status
    race.figure()                               # still drawable


# ----------------------------------------------------------------- gradient descent on a quadratic
def test_stability_threshold_is_two_over_the_largest_curvature():
    q = optim.quadratic(1.0, 5.0)
    assert abs(optim.largest_stable_lr(q, q.start, tol=1e-3) - 2 / 5) < 2e-3
    with np.errstate(over="ignore", invalid="ignore"):
        assert optim.diverged(optim.descend(q, optim.GD(0.42), q.start, 100), q)
    assert not optim.diverged(optim.descend(q, optim.GD(0.38), q.start, 100), q)
    with pytest.raises(ValueError, match="curvatures must be positive"):
        optim.quadratic(1.0, -1.0)


def test_gd_on_a_quadratic_contracts_each_coordinate_by_one_minus_lr_times_curvature():
    q = optim.quadratic(1.0, 5.0)
    path = optim.descend(q, optim.GD(0.1), q.start, 10)
    expected = np.array(q.start) * np.array([0.9, 0.5]) ** 10
    assert np.allclose(path[-1], expected)


def test_learning_rate_figure_has_one_frame_per_rate():
    q = optim.quadratic(1.0, 5.0)
    fig = optim_demos.learning_rate_figure(q, [0.05, 0.3, 0.42], q.start, steps=20)
    assert [f.name for f in fig.frames] == ["0.05", "0.3", "0.42"]
    assert len(fig.layout.sliders[0].steps) == 3
    assert not np.allclose(fig.frames[0].data[0].x, fig.frames[1].data[0].x)


# ----------------------------------------------------------------- stochastic gradients
def test_example_gradients_average_to_the_autograd_gradient():
    x, y = optim.line_data(200, seed=1)
    s = optim.line_surface(x, y)
    w = np.array([0.3, 1.2])
    assert np.allclose(optim.example_gradients(w, x, y).mean(0), s.gradient(w))
    assert np.abs(s.gradient(s.minima[0])).max() < 1e-8


def test_minibatch_gradient_is_unbiased_with_variance_one_over_batch_size():
    x, y = optim.line_data(500, seed=2)
    w = np.array([-0.5, 1.5])
    noise = optim.gradient_noise(w, x, y, [1, 16, 256], trials=3000, seed=0)
    mse = np.array([noise[b]["mse"] for b in (1, 16, 256)])
    assert np.allclose(mse * [1, 16, 256], mse[0], rtol=0.15)       # mse * B is constant
    full_norm = np.linalg.norm(optim.example_gradients(w, x, y).mean(0))
    assert noise[1]["bias"] < 0.05 * full_norm + 3 * np.sqrt(mse[0] / 3000)
    with pytest.raises(ValueError, match="batch_size"):
        optim.minibatch_gradient(w, x, y, 0, np.random.default_rng(0))


def test_decreasing_steps_converge_where_constant_steps_stall():
    x, y = optim.line_data(1000, seed=0)
    best = np.array(optim.line_surface(x, y).minima[0])
    constant = optim.sgd(x, y, (0.0, 1.5), 0.1, 3000, batch_size=1, seed=3)
    decaying = optim.sgd(x, y, (0.0, 1.5), 0.1, 3000, batch_size=1, decay=0.02, seed=3)
    err = lambda p: np.linalg.norm(p[-500:] - best, axis=1).mean()
    assert err(decaying) < 0.5 * err(constant)
    with pytest.raises(ValueError, match="decay"):
        optim.sgd(x, y, (0, 0), 0.1, 10, 1, decay=-1)


# ----------------------------------------------------------------- the race, measured
def test_race_table_records_first_step_below_target():
    table = optim_demos.race_table(max_steps=400, settings={"valley": optim_demos.RACE_SETTINGS["valley"]})
    arrived = table["valley"]
    assert set(arrived) == set(optim_demos.RULES)
    assert arrived["Momentum"] < arrived["GD"]          # momentum wins the valley
    race = optim_demos.OptimizerRace(surface="valley", **optim_demos.RACE_SETTINGS["valley"])
    race.step(arrived["RMSProp"])
    assert race.metrics["RMSProp"][-1] < 1e-3 <= race.metrics["RMSProp"][-2]


@pytest.mark.parametrize("surface", list(optim_demos.RACE_SETTINGS))
def test_race_settings_are_stable_on_every_surface(surface):
    race = optim_demos.OptimizerRace(surface=surface, **optim_demos.RACE_SETTINGS[surface])
    race.step(300)
    assert not race.diverged
    assert max(race.metrics.last.values()) < race.start_loss      # every rule went downhill
    assert min(race.metrics.last.values()) < 0.1                  # and one is nearly there


# ----------------------------------------------------------------- SGD vs Adam on a network
def test_sgd_and_adam_start_identical_and_adam_learns_the_moons():
    demo = optim_demos.SGDvsAdam(dataset="moons")
    for a, b in zip(demo.nets["SGD"].parameters(), demo.nets["Adam"].parameters()):
        assert torch.equal(a, b)
    before = demo.figure().data[0].z.copy()
    demo.step(300)
    last = demo.metrics.last
    assert last["Adam accuracy"] >= 0.97 and last["Adam loss"] < 0.05
    assert last["Adam loss"] < last["SGD loss"]
    assert not np.array_equal(demo.figure().data[0].z, before)        # the heatmap moved


def test_sgd_vs_adam_applies_learning_rates_live_and_restarts_on_dataset():
    demo = optim_demos.SGDvsAdam()
    demo.step(5)
    demo.set(sgd_lr=0.5, batch_size=64)
    assert demo.steps == 5 and demo.opts["SGD"].param_groups[0]["lr"] == 0.5
    demo.set(dataset="spirals")
    assert demo.steps == 0
    with pytest.raises(ValueError, match="dataset must be one of"):
        demo.set(dataset="swiss roll")
    with pytest.raises(ValueError, match="between"):
        demo.set(adam_lr=5.0)


def test_sgd_vs_adam_with_extreme_learning_rates_reports_without_raising():
    demo = optim_demos.SGDvsAdam(sgd_lr=3.0, adam_lr=0.3)
    demo.step(50)
    assert demo.steps == 50 or demo.diverged
    if demo.diverged:
        assert "smaller learning rate" in demo.status
    demo.figure()


def test_sgd_vs_adam_recording_animates_a_real_run():
    rec = optim_demos.SGDvsAdam().record(steps=40, frames=4)
    assert len(rec.figure.frames) == 5
    assert rec.figure.frames[0].data[0].z is not None
    assert "Adam loss" in rec.final


# ----------------------------------------------------------------- the live view
def test_live_view_trains_the_race_in_the_background_and_pauses():
    import asyncio

    from genmech.live import LiveView

    async def scenario():
        view = LiveView(optim_demos.OptimizerRace(surface="bowl"), key="race-test")
        view.buttons["Play"].click()
        assert await until(lambda: view.demo.steps > 0)
        assert view.playing
        view.buttons["Pause"].click()
        await asyncio.sleep(0.01)
        steps = view.demo.steps
        await asyncio.sleep(0.2)
        assert view.demo.steps == steps
        view.controls["lr"].value = 0.05                      # a slider change rebuilds
        assert view.demo.steps == 0 and view.demo.hp["lr"] == 0.05
        view.buttons["Step"].click()
        assert view.demo.steps == 1
    asyncio.run(scenario())


def test_live_view_race_divergence_pauses_with_message_and_reset_recovers():
    import asyncio

    from genmech.live import LiveView

    async def scenario():
        view = LiveView(optim_demos.OptimizerRace(surface="rosenbrock", lr=0.5), key="race-diverge")
        view.buttons["Play"].click()
        assert await until(lambda: not view.playing)
        assert view.demo.diverged
        assert "smaller learning rate" in view.status.value
        view.controls["lr"].value = 1e-3
        assert not view.demo.diverged
    asyncio.run(scenario())


def test_html_table_escapes_and_keeps_rows():
    html = plotting.html_table(["a", "b<c"], [[1, "x & y"], [None, 2]], caption="cap").data
    assert html.count("<tr>") == 3 and "b&lt;c" in html and "x &amp; y" in html
    assert "<caption>cap</caption>" in html


def test_demos_draw_their_own_loss_curves():
    race = optim_demos.OptimizerRace(surface="bowl")
    race.step(3)
    assert race.curves == () and not race.metric_figure().data
    rec = race.record(steps=6, frames=2)
    assert "Adam" in rec.final and rec.figure.frames
