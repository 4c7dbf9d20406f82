"""The diffusion lab on a reader's own points, as the GAN lab takes them."""
import numpy as np
import pytest
import torch

from genmech.diffusion_demos import WINDOW_REACH, DiffusionLab, fit_to_window
from genmech.live import LiveView


def heart(n=400):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)], 1)


def test_your_points_are_centred_and_scaled_to_the_window():
    pts = torch.tensor(heart() * 10 + 500, dtype=torch.float32)      # far off and large
    out = fit_to_window(pts)
    assert out.mean(0).abs().max() < 1e-3
    assert out.abs().max().item() == pytest.approx(WINDOW_REACH, rel=1e-5)
    # the shape is kept: one scale factor for both axes
    ratio = (out.max(0).values - out.min(0).values) / (pts.max(0).values - pts.min(0).values)
    assert ratio[0].item() == pytest.approx(ratio[1].item(), rel=1e-5)


def test_the_lab_learns_your_points():
    lab = DiffusionLab(points=heart(), sample_steps=20, eta=0.0)
    assert lab.hp["dataset"] == "yours"
    js0 = lab.measure()["js"]
    lab.step(600)
    last = lab.measure()
    assert "modes" not in last and last["js"] < js0 - 0.1, (js0, last)
    assert "my_points" in lab.code() and "fit_to_window" in lab.code()
    lab.figure()                                       # draws


def test_yours_without_points_and_bad_points_are_readable_errors():
    with pytest.raises(ValueError, match="needs your points"):
        DiffusionLab(dataset="yours")
    for bad, message in ((np.zeros((10, 3)), r"shape \(n, 2\)"), (np.ones((50, 2)), "all the same point"),
                         (np.full((20, 2), np.nan), "finite")):
        with pytest.raises(ValueError, match=message):
            DiffusionLab(points=bad)


def test_the_view_refuses_yours_without_points_and_keeps_training():
    view = LiveView(DiffusionLab(), key="diffusion-yours")
    view.demo.step(3)
    view.controls["dataset"].value = "yours"
    assert view.demo.hp["dataset"] == "ring" and view.controls["dataset"].value == "ring"
    assert view.demo.steps == 3 and "needs your points" in view.status.value
    view.buttons["Step"].click()
    assert view.demo.steps == 4


def test_with_your_points_the_view_switches_datasets_and_back():
    view = LiveView(DiffusionLab(points=heart()), key="diffusion-yours-2")
    view.controls["dataset"].value = "ring"
    assert view.demo.hp["dataset"] == "ring"
    view.controls["dataset"].value = "yours"
    assert view.demo.hp["dataset"] == "yours" and len(view.demo.real) == 400
