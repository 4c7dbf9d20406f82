"""The package's layout: models apart from views, one name per thing (docs: DESIGN.md).

A mechanism's model-and-math module imports torch, numpy (and scipy or scikit-learn where
the math needs them), never a plotting or widget library nor the live framework: its demos
and figures sit beside it in ``<mechanism>_demos.py``. The modules are read with ``ast``,
not imported, so an import hidden inside a function counts too.
"""
import ast
import math
import pathlib

import pytest
import torch

import genmech
from genmech import probability, vae

PACKAGE = pathlib.Path(genmech.__file__).parent
VIEW_MODULES = {"live", "livefigure", "plotting", "sphinxext", "__init__"}
FORBIDDEN = ("plotly", "ipywidgets", "anywidget", "IPython",
             "genmech.live", "genmech.livefigure", "genmech.plotting")


def model_modules() -> list[pathlib.Path]:
    return sorted(p for p in PACKAGE.glob("*.py")
                  if not p.stem.endswith("_demos") and p.stem not in VIEW_MODULES)


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports, fully qualified (relative imports resolved)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "genmech" + (f".{base}" if base else "")
            out.add(base)
            if node.level or base == "genmech":      # from . import live
                out.update(f"{base}.{a.name}" for a in node.names)
    return out


def test_there_are_model_modules_and_demo_modules():
    names = {p.stem for p in model_modules()}
    assert {"probability", "nn", "nets", "optim", "gan", "vae", "gpt", "sampling", "autograd",
            "digits", "data"} <= names
    demos = {p.stem for p in PACKAGE.glob("*_demos.py")}
    assert {"probability_demos", "nn_demos", "optim_demos", "gan_demos", "vae_demos",
            "gpt_demos", "sampling_demos", "autograd_demos"} <= demos


@pytest.mark.parametrize("path", model_modules(), ids=lambda p: p.stem)
def test_model_modules_import_no_view(path):
    bad = sorted(m for m in imported_modules(path)
                 if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert not bad, (f"genmech/{path.name} is a model-and-math module but imports {bad}; "
                     f"move what needs them to genmech/{path.stem}_demos.py")


def test_every_module_says_what_it_implements_and_demos_name_their_model():
    for path in PACKAGE.glob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"genmech/{path.name} has no module docstring"
        if path.stem.endswith("_demos"):
            model = path.stem[:-len("_demos")]
            assert f"genmech.{model}" in doc, f"{path.name} should point to genmech.{model}"


def public_definitions() -> dict[str, list[str]]:
    """Public classes and functions *defined* (not imported) in genmech: name -> modules."""
    out: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                out.setdefault(node.name, []).append(path.stem)
    return out


@pytest.mark.parametrize("name", ["MLP", "gaussian_kl"])
def test_one_name_per_thing(name):
    """Once there were three MLPs (the shared network, the scalar one of the backprop
    section, the transformer's feed-forward block) and two gaussian_kl with different
    parameters: each now has its own name."""
    assert len(public_definitions().get(name, [])) == 1, public_definitions().get(name)


def test_the_renamed_things_exist_under_their_new_names():
    from genmech import autograd, gpt, nets
    assert nets.MLP.__module__ == "genmech.nets"
    assert autograd.ScalarMLP.__module__ == "genmech.autograd"
    assert gpt.FeedForward.__module__ == "genmech.gpt"
    assert vae.diagonal_gaussian_kl.__module__ == "genmech.vae"


@pytest.mark.parametrize("mu1, s1, mu2, s2", [(0.0, 1.0, 0.0, 1.0), (0.5, 0.8, -0.3, 1.3),
                                              (-2.0, 0.1, 1.0, 3.0), (1.0, 2.0, 1.0, 0.5)])
def test_the_two_gaussian_kls_agree(mu1, s1, mu2, s2):
    """probability.gaussian_kl (floats, standard deviations) and vae.diagonal_gaussian_kl
    (tensors, log-variances, summed over dimensions) on the same Gaussians."""
    one = probability.gaussian_kl(mu1, s1, mu2, s2)
    t = lambda v: torch.tensor([v], dtype=torch.float64)   # noqa: E731
    diag = vae.diagonal_gaussian_kl(t(mu1), t(2 * math.log(s1)), t(mu2), t(2 * math.log(s2)))
    assert diag.item() == pytest.approx(one, rel=1e-12, abs=1e-12)
    # two independent dimensions: the sum of the two one-dimensional divergences
    two = vae.diagonal_gaussian_kl(torch.tensor([mu1, mu2], dtype=torch.float64),
                                   torch.tensor([2 * math.log(s1), 2 * math.log(s2)], dtype=torch.float64),
                                   torch.tensor([mu2, mu1], dtype=torch.float64),
                                   torch.tensor([2 * math.log(s2), 2 * math.log(s1)], dtype=torch.float64))
    expected = one + probability.gaussian_kl(mu2, s2, mu1, s1)
    assert two.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
