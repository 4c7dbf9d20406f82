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


# --------------------------------------------------------------------------- schedules, clipping, weight decay
@pytest.mark.parametrize("total, peak, final", [(100, 0.3, 0.0), (37, 1e-3, 1e-5)])
def test_cosine_schedule_matches_torch_cosine_annealing(total, peak, final):
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=peak)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=final)
    for t in range(total):
        assert optim.warmup_cosine(t, total, peak, 0, final) == pytest.approx(
            opt.param_groups[0]["lr"], rel=1e-10, abs=1e-15), t
        opt.step()
        sched.step()


@pytest.mark.parametrize("total, warmup", [(300, 50), (20, 1), (10, 9)])
def test_warmup_then_cosine_matches_torch_sequential_lr(total, warmup):
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.3)
    first = (torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warmup, total_iters=warmup - 1)
             if warmup > 1 else torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0))
    sched = torch.optim.lr_scheduler.SequentialLR(
        opt, [first, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup)],
        milestones=[warmup])
    ours = [optim.warmup_cosine(t, total, 0.3, warmup) for t in range(total)]
    theirs = []
    for _ in range(total):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-15)
    assert ours[warmup - 1] == pytest.approx(0.3) and ours[0] == pytest.approx(0.3 / warmup)
    assert all(a <= b for a, b in zip(ours[:warmup], ours[1:warmup + 1]))       # rises
    assert all(a >= b for a, b in zip(ours[warmup:], ours[warmup + 1:]))        # then falls


def test_constant_after_warmup_and_schedule_errors():
    assert {optim.warmup_cosine(t, 50, 0.1, 10, final_lr=0.1) for t in range(9, 50)} == {0.1}
    with pytest.raises(ValueError, match="warmup < total"):
        optim.warmup_cosine(0, 10, 0.1, warmup=10)
    with pytest.raises(ValueError, match="final_lr <= peak_lr"):
        optim.warmup_cosine(0, 10, 0.1, final_lr=0.2)


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clip_by_norm_matches_torch_clip_grad_norm(max_norm):
    rng = np.random.default_rng(int(max_norm * 10) % 7)
    grads = [rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=(2, 2, 2))]
    ours, norm = optim.clip_by_norm(grads, max_norm)
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    theirs = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert norm == pytest.approx(theirs.item(), rel=1e-12)
    for a, p in zip(ours, params):
        assert np.allclose(a, p.grad.numpy(), rtol=1e-12, atol=1e-15)
    after = np.sqrt(sum((a**2).sum() for a in ours))
    assert after <= max_norm * (1 + 1e-9) or max_norm > norm    # long gradients end at max_norm
    for a, g in zip(ours, grads):                               # ... and keep their direction
        assert np.allclose(a / np.linalg.norm(a), g / np.linalg.norm(g))
    with pytest.raises(ValueError, match="max_norm must be positive"):
        optim.clip_by_norm(grads, 0.0)


@pytest.mark.parametrize("ours, theirs", [
    (lambda: optim.AdamW(0.01, weight_decay=0.1), lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    (lambda: optim.AdamW(0.003, weight_decay=0.0), lambda p: torch.optim.AdamW(p, lr=0.003, weight_decay=0.0)),
    (lambda: optim.AdamL2(0.01, weight_decay=0.1), lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
], ids=["AdamW", "AdamW-no-decay", "Adam+L2"])
def test_weight_decay_rules_follow_torch(ours, theirs):
    """One step, then forty more, on Rosenbrock's banana: the same path as torch.optim."""
    s = optim.SURFACES["rosenbrock"]
    path = optim.descend(s, ours(), (-1.5, 2.5), 41)
    w = torch.tensor((-1.5, 2.5), dtype=torch.float64, requires_grad=True)
    opt = theirs([w])
    for step in range(41):
        opt.zero_grad()
        s(w).backward()
        opt.step()
        assert np.allclose(path[step + 1], w.detach().numpy(), rtol=1e-10, atol=1e-12), step


def test_adamw_shrinks_an_unused_weight_geometrically_and_l2_in_adam_linearly():
    adamw, l2 = optim.AdamW(0.01, weight_decay=0.1), optim.AdamL2(0.01, weight_decay=0.1)
    weak = optim.AdamL2(0.01, weight_decay=1e-3)
    w1 = w2 = w3 = np.array([1.0])
    for _ in range(100):
        w1 = adamw.update(w1, np.zeros(1))          # no loss gradient: only the decay
        w2, before = l2.update(w2, np.zeros(1)), w2
        w3 = weak.update(w3, np.zeros(1))
        assert 0 < before[0] - w2[0] <= 0.01 * (1 + 1e-9)   # Adam's step: at most lr long
    assert w1[0] == pytest.approx(0.999**100, rel=1e-9)          # (1 - lr lambda)^t
    assert w2[0] < 0.5 < w1[0]                                    # L2 in Adam pulls far harder
    assert w3[0] == pytest.approx(w2[0], rel=1e-4)                # ... and lambda hardly matters
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        optim.AdamW(0.01, weight_decay=-1)


def test_descend_with_clipping_survives_where_plain_gd_blows_up():
    s = optim.SURFACES["rosenbrock"]
    with np.errstate(over="ignore", invalid="ignore"):
        plain = optim.descend(s, optim.GD(5e-3), s.start, 30)
    clipped = optim.descend(s, optim.GD(5e-3), s.start, 300, max_norm=1.0)
    assert not np.isfinite(plain[-1]).all()
    assert np.isfinite(clipped).all()
    assert np.linalg.norm(np.diff(clipped, axis=0), axis=1).max() <= 5e-3 * (1 + 1e-6)
    assert float(s(torch.tensor(clipped[-1]))) < float(s(torch.tensor(clipped[0])))


def test_train_network_warmup_avoids_the_early_spike_and_weight_decay_shrinks():
    spike = optim_demos.train_network(lr=0.3, steps=60, seed=0)
    calm = optim_demos.train_network(lr=0.3, steps=60, warmup=50, final_lr=0.0, seed=0)
    assert max(spike["loss"]) > 1.0 > max(calm["loss"])
    assert calm["lr"][0] == pytest.approx(0.3 / 50) and calm["lr"][49] == pytest.approx(0.3)
    clipped = optim_demos.train_network(lr=0.01, steps=20, max_norm=1e-3)
    assert len(clipped["grad_norm"]) == 20 and max(clipped["grad_norm"]) > 1e-3
    plain = optim_demos.train_network(lr=0.01, steps=200)
    decayed = optim_demos.train_network(lr=0.01, steps=200, weight_decay=0.5)
    assert decayed["weight_norm"][-1] < plain["weight_norm"][-1]
    l2 = optim_demos.train_network(lr=0.01, steps=200, weight_decay=0.1, decoupled=False)
    ratios = optim_demos.effective_decay(l2["opt"]) / (0.01 * 0.1)
    assert len(ratios) == sum(p.numel() for p in l2["net"].parameters()) and (ratios > 1).all()
