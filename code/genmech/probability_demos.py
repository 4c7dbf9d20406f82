"""The probability chapter's demos and figures: the views of :mod:`genmech.probability`.

* :func:`histogram_bar`: a density histogram as a plotly bar trace;
* :class:`HistogramConvergence`: the law of large numbers as a demo, "training" being the
  drawing of more samples (Robert & Casella, 2004);
* :class:`MaximumLikelihood`: maximum likelihood by gradient ascent on the log-likelihood;
* :class:`KLFit`: one Gaussian fitted to two peaks by forward and by reverse KL
  (Minka, 2005);
* :func:`temperature_figure` and :func:`temperature_widget`: a categorical distribution
  reshaped by a temperature (Hinton et al., 2015), on a slider.

The distributions, estimators and divergences they draw are in :mod:`genmech.probability`.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from .live import Choice, Demo, Slider
from .nets import set_learning_rate
from .plotting import COLORS, compact
from .probability import (NEXT_WORD_P, NEXT_WORDS, ONE_PEAK, TWIN_PEAKS, TWO_PEAKS, Mixture,
                          as_count, as_probabilities, entropy, gaussian_log_prob,
                          mixture_log_prob, with_temperature)


def histogram_bar(samples, low: float, high: float, bins: int = 60, **bar) -> go.Bar:
    """A density histogram of ``samples`` on ``[low, high]`` as a plotly bar trace.

    Heights are ``count / (n x width)`` over *all* ``n`` samples, so the bars estimate the
    density even when some samples fall outside the window. Binning here rather than in the
    browser keeps the page small: 60 numbers instead of thousands of samples."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError("samples must be a non-empty 1D array")
    if not high > low:
        raise ValueError(f"need low < high, got {low} and {high}")
    counts, edges = np.histogram(samples, bins=as_count(bins, "bins"), range=(low, high))
    width = edges[1] - edges[0]
    bar.setdefault("opacity", 0.45)
    return go.Bar(x=compact(edges[:-1] + width / 2), y=compact(counts / (samples.size * width)),
                  width=width, **bar)


# --------------------------------------------------------------------------- Monte Carlo
class HistogramConvergence(Demo):
    """The law of large numbers, live: a histogram of ever more samples of a mixture
    approaches its true density. One "training step" draws a batch that grows the total
    by ``growth`` (10 % by default), so the sample size grows geometrically; counts are
    kept per bin, so memory stays constant however long it runs.
    """

    title = "A histogram converging to the density"
    params = (Slider("growth", 0.02, 1.0, 0.1, log=True, label="samples added per step (fraction)"),
              Slider("bins", 10, 100, 40, integer=True, label="bins", restart=True))
    curves = ("L1 error",)
    log_curves = True
    blowup: dict = {}     # nothing can diverge: no learning rate, only more samples
    START = 10            # samples at step 0
    MAX_BATCH = 200_000   # samples drawn in one step at most (keeps a live step fast)

    def build(self):
        self.target = TWO_PEAKS
        self.rng = np.random.default_rng(self.seed)
        self.edges = np.linspace(-4.5, 4.5, self.hp["bins"] + 1)
        self.width = self.edges[1] - self.edges[0]
        # the probability of each bin, integrated exactly from the CDF
        self.bin_mass = np.diff(self.target.cdf(self.edges))
        self.counts = np.zeros(self.hp["bins"])
        self.n = 0
        self._draw(self.START)

    def _draw(self, m: int) -> None:
        x = self.target.sample(m, self.rng)
        self.counts += np.histogram(x, self.edges)[0]
        self.n += m

    def l1_error(self) -> float:
        """``sum_bins |histogram density - true density| x width``: the area between the
        histogram and the binned truth, 0 when they match and at most 2."""
        return float(np.abs(self.counts / self.n - self.bin_mass).sum())

    def train_step(self):
        self._draw(int(min(self.MAX_BATCH, max(1, round(self.n * self.hp["growth"])))))
        return {"L1 error": self.l1_error(), "samples": float(self.n)}

    def apply(self, changed):
        pass   # the growth rate is read at every step

    def figure(self):
        fig = go.Figure()
        centers = 0.5 * (self.edges[1:] + self.edges[:-1])
        fig.add_bar(x=compact(centers), width=self.width,
                    marker=dict(color=COLORS[0], opacity=0.6), **self.frame()[0])
        xs = np.linspace(-4.5, 4.5, 400)
        fig.add_scatter(x=compact(xs), y=compact(self.target.pdf(xs)), mode="lines",
                        name="true density p(x)", line=dict(color=COLORS[3], width=2.5))
        fig.update_layout(height=380, margin=dict(l=50, r=20, t=50, b=50), bargap=0,
                          xaxis_title="x", yaxis_title="density", yaxis_range=[0, 0.8],
                          legend=dict(orientation="h", y=1.12))
        return fig

    def frame(self):
        return [dict(y=compact(self.counts / (self.n * self.width)),
                     name=f"histogram of {self.n:,} samples"), None]


# --------------------------------------------------------------------------- maximum likelihood
class MaximumLikelihood(Demo):
    """Fit a Gaussian (``model="gaussian"``) or a two-component mixture (``"mixture"``) to
    data by plain gradient ascent on the average log-likelihood.

    The data are ``n`` samples from a known distribution (``ONE_PEAK`` or ``TWO_PEAKS``),
    so the fitted parameters can be compared with the true ones.
    """

    title = "Maximum likelihood by gradient ascent"
    params = (Choice("model", ("gaussian", "mixture"), "gaussian"),
              Slider("lr", 1e-3, 20.0, 0.3, log=True, label="learning rate"),
              Slider("n", 50, 5000, 1000, integer=True, label="data points", restart=True))
    curves = ("log-likelihood",)

    def build(self):
        self.truth = ONE_PEAK if self.hp["model"] == "gaussian" else TWO_PEAKS
        rng = np.random.default_rng(self.seed)
        self.x = torch.as_tensor(self.truth.sample(self.hp["n"], rng))       # (N,) float64
        k = len(self.truth.weights)
        # A deliberately poor start: equal weights, wide components left of the data.
        self.logits = torch.zeros(k, dtype=torch.float64, requires_grad=True)      # (K,)
        self.means = torch.tensor([-1.0, 0.0][:k], dtype=torch.float64, requires_grad=True)
        self.log_stds = torch.zeros(k, dtype=torch.float64, requires_grad=True)    # sigma = 1
        self.opt = torch.optim.SGD([self.logits, self.means, self.log_stds], lr=self.hp["lr"])
        with torch.no_grad():
            self.start_ll = self.log_likelihood().item()

    FALL = 50.0   # nats per point below the starting guess that count as diverged

    def check(self, metrics: dict) -> str | None:
        """Divergence here: with sigma stored as its log the numbers stay finite, but when
        gradient ascent overshoots so far that the log-likelihood falls ``FALL`` nats per
        point below the starting guess, the fit has clearly failed."""
        ll = metrics.get("log-likelihood", self.start_ll)
        if ll < self.start_ll - self.FALL:
            return (f"Diverged — the log-likelihood fell to {ll:.3g} per point at step "
                    f"{self.steps}, far below the starting guess ({self.start_ll:.3g}): "
                    "the steps overshoot. Try a smaller learning rate, then press Reset.")
        return None

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])

    def log_likelihood(self) -> torch.Tensor:
        return mixture_log_prob(self.x, self.logits, self.means, self.log_stds).mean()

    def train_step(self):
        ll = self.log_likelihood()
        self.opt.zero_grad()
        (-ll).backward()        # ascend the log-likelihood = descend its negative
        self.opt.step()
        return {"log-likelihood": ll.item()}

    def fitted(self) -> Mixture | None:
        """The current model as a :class:`Mixture`, components sorted by mean (None if not finite)."""
        w = torch.softmax(self.logits, 0).detach().numpy()
        m = self.means.detach().numpy()
        with np.errstate(over="ignore"):
            s = np.exp(self.log_stds.detach().numpy())
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(m)) and np.all(np.isfinite(s))
                and np.all(s > 0)):
            return None
        order = np.argsort(m)
        w = w[order] / w.sum()
        return Mixture(tuple(map(float, w)), tuple(map(float, m[order])), tuple(map(float, s[order])))

    GRID = np.linspace(-5, 5, 300)

    def figure(self):
        fig = go.Figure()
        x = self.x.numpy()
        counts, edges = np.histogram(x, bins=40, range=(-5, 5), density=True)
        fig.add_bar(x=compact(0.5 * (edges[1:] + edges[:-1])), y=compact(counts),
                    width=edges[1] - edges[0], name="data (histogram)",
                    marker=dict(color=COLORS[0], opacity=0.35))
        fig.add_scatter(x=compact(self.GRID), y=compact(self.truth.pdf(self.GRID)), mode="lines",
                        name="true density", line=dict(color="gray", dash="dash", width=1.5))
        fig.add_scatter(mode="lines", name="fitted density", line=dict(color=COLORS[3], width=3),
                        x=compact(self.GRID), **self.frame()[2])
        fig.update_layout(height=380, margin=dict(l=50, r=20, t=50, b=50), bargap=0,
                          xaxis_title="x", yaxis_title="density", yaxis_range=[0, 0.75],
                          legend=dict(orientation="h", y=1.12))
        return fig

    def frame(self):
        model = self.fitted()
        y = model.pdf(self.GRID) if model is not None else np.zeros_like(self.GRID)
        return [None, None, dict(y=compact(y))]


# --------------------------------------------------------------------------- information
class KLFit(Demo):
    """One Gaussian ``q`` fitted to the two-peaked ``TWIN_PEAKS`` twice, side by side, by
    gradient descent: on the forward ``KL(p || q)`` (left) and on the reverse ``KL(q || p)``
    (right). Both fits start from the same Gaussian, a little right of the middle.

    In one dimension both divergences can be computed almost exactly, so the loss is
    deterministic: the forward one as an integral over a fine grid (``p`` is fixed), the
    reverse one as an expectation under ``q`` by Gauss-Hermite quadrature,
    ``E_q[f(x)] = E_z[f(mu + sigma z)]`` with ``z ~ N(0, 1)``, which stays accurate however
    narrow or wide ``q`` becomes.
    """

    title = "Forward vs reverse KL: one Gaussian, two peaks"
    params = (Slider("lr", 1e-3, 20.0, 0.2, log=True, label="learning rate"),
              Slider("start", -1.5, 1.5, 1.0, step=0.1, label="starting mean", restart=True))
    curves = ("forward KL(p‖q)", "reverse KL(q‖p)")
    blowup = {"forward KL(p‖q)": 10.0, "reverse KL(q‖p)": 10.0}   # ten times the start
    GRID = torch.linspace(-8, 8, 1601, dtype=torch.float64)
    _nodes, _weights = np.polynomial.hermite_e.hermegauss(80)
    NODES = torch.as_tensor(_nodes)                                   # z_j, (J,)
    WEIGHTS = torch.as_tensor(_weights / math.sqrt(2 * math.pi))      # sum to 1, (J,)

    def build(self):
        self.target = TWIN_PEAKS
        self.log_p = self.target.log_prob(self.GRID)                   # (G,)
        self.p = torch.exp(self.log_p)
        self.dx = float(self.GRID[1] - self.GRID[0])
        self.neg_entropy_p = float((self.p * self.log_p).sum() * self.dx)   # -H(p)
        # params_[0] = (mean, log std) fitted by forward KL; params_[1] by reverse KL
        self.params_ = [torch.tensor([self.hp["start"], 0.0], dtype=torch.float64, requires_grad=True)
                        for _ in range(2)]
        self.opt = torch.optim.SGD(self.params_, lr=self.hp["lr"])

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])

    def forward_kl(self, theta) -> torch.Tensor:
        """``KL(p || q) = -H(p) - integral p log q dx``: large wherever p has mass q misses."""
        log_q = gaussian_log_prob(self.GRID, theta[0], theta[1])
        return self.neg_entropy_p - (self.p * log_q).sum() * self.dx

    def reverse_kl(self, theta) -> torch.Tensor:
        """``KL(q || p) = -H(q) - E_q[log p]``, with the Gaussian entropy
        ``H(q) = log(sigma sqrt(2 pi e))``: large wherever q puts mass p lacks."""
        mean, log_std = theta[0], theta[1]
        x = mean + torch.exp(log_std) * self.NODES
        entropy_q = log_std + 0.5 * math.log(2 * math.pi * math.e)
        return -entropy_q - (self.WEIGHTS * self.target.log_prob(x)).sum()

    def train_step(self):
        fwd, rev = self.forward_kl(self.params_[0]), self.reverse_kl(self.params_[1])
        self.opt.zero_grad()
        (fwd + rev).backward()      # independent parameters: one backward serves both fits
        self.opt.step()
        return {"forward KL(p‖q)": fwd.item(), "reverse KL(q‖p)": rev.item()}

    def fits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((mean, std) by forward KL, (mean, std) by reverse KL)``."""
        out = []
        for theta in self.params_:
            m, ls = theta.detach().tolist()
            out.append((m, math.exp(min(ls, 700.0))))
        return tuple(out)

    def figure(self):
        fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                            subplot_titles=("forward KL(p‖q): mean-seeking",
                                            "reverse KL(q‖p): mode-seeking"))
        xs = self.GRID.numpy()[::4]
        data = self.frame()
        for col in (1, 2):
            fig.add_scatter(x=compact(xs), y=compact(self.p.numpy()[::4]), mode="lines",
                            fill="tozeroy", name="target p (two peaks)", showlegend=col == 1,
                            line=dict(color="gray", width=1.5), row=1, col=col)
            fig.add_scatter(x=compact(xs), mode="lines", name="fitted Gaussian q",
                            showlegend=col == 1, line=dict(color=COLORS[2 * col - 2], width=3),
                            row=1, col=col, **data[2 * col - 1])
        fig.update_xaxes(range=[-5, 5], title="x")
        fig.update_yaxes(range=[0, 0.9], title="density", row=1, col=1)
        fig.update_layout(height=400, margin=dict(l=50, r=20, t=95, b=50),
                          legend=dict(orientation="h", y=1.28))
        return fig

    def frame(self):
        xs = self.GRID[::4]
        out = []
        for theta in self.params_:
            with torch.no_grad():
                q = torch.exp(gaussian_log_prob(xs, theta[0], theta[1])).numpy()
            out += [None, dict(y=compact(np.nan_to_num(q, nan=0.0, posinf=0.0)))]
        return out


# --------------------------------------------------------------------------- temperature
def temperature_figure(p=NEXT_WORD_P, labels=NEXT_WORDS, temperatures=None) -> go.Figure:
    """A bar chart of ``with_temperature(p, T)`` with a plotly slider over ``T``.

    The slider is part of the figure (``layout.sliders`` with ``update`` steps), so it works
    on the static site and in a kernel with no Python callback. The entropy is read out in
    the title; the slider's ends are labelled "conservative" and "random".
    """
    p = as_probabilities(p)
    if len(labels) != p.size:
        raise ValueError(f"need one label per probability: {len(labels)} labels, {p.size} probabilities")
    if temperatures is None:
        temperatures = np.round(np.geomspace(0.1, 10.0, 41), 3)
    temperatures = [float(t) for t in temperatures]
    h_max = math.log(p.size)

    def title(t):
        q = with_temperature(p, t)
        return (f"T = {t:.2g}: entropy {entropy(q):.2f} nats "
                f"(0 = certain, {h_max:.2f} = uniform); top word {q.max():.0%}")

    start = min(range(len(temperatures)), key=lambda i: abs(temperatures[i] - 1.0))
    fig = go.Figure(go.Bar(x=list(labels), y=compact(with_temperature(p, temperatures[start])),
                           marker_color=COLORS[0], text=None))
    steps = [dict(method="update", label=f"{t:g}",
                  args=[{"y": [compact(with_temperature(p, t))]}, {"title.text": title(t)}])
             for t in temperatures]
    fig.update_layout(
        title=dict(text=title(temperatures[start]), font=dict(size=15)),
        height=430, margin=dict(l=50, r=30, t=60, b=130),
        yaxis=dict(range=[0, 1], title="probability"), xaxis_title="next word",
        sliders=[dict(active=start, steps=steps, x=0.17, len=0.66, y=-0.22, yanchor="top",
                      currentvalue=dict(prefix="temperature T = ", visible=True))],
        # the ends of the slider, labelled at the height of its rail
        annotations=[dict(text="◀ conservative", x=0.165, y=-0.47, xref="paper", yref="paper",
                          showarrow=False, xanchor="right", yanchor="middle",
                          font=dict(color=COLORS[0], size=13)),
                     dict(text="random ▶", x=0.835, y=-0.47, xref="paper", yref="paper",
                          showarrow=False, xanchor="left", yanchor="middle",
                          font=dict(color=COLORS[3], size=13))],
    )
    return fig


def temperature_widget(p=NEXT_WORD_P, labels=NEXT_WORDS):
    """The same picture driven by an ipywidgets slider, for a live kernel: a continuous,
    logarithmic temperature and a sample of ten words drawn at that temperature. The figure
    is a :class:`genmech.livefigure.LiveFigure`, which redraws reliably in JupyterLab."""
    import ipywidgets as w

    from .livefigure import LiveFigure

    p = as_probabilities(p)

    def figure(t: float) -> go.Figure:
        q = with_temperature(p, t)
        fig = go.Figure(go.Bar(x=list(labels), y=compact(q), marker_color=COLORS[0]))
        fig.update_layout(title=f"T = {t:.2f}: entropy {entropy(q):.2f} nats", height=380,
                          yaxis=dict(range=[0, 1], title="probability"), xaxis_title="next word",
                          margin=dict(l=50, r=30, t=60, b=50))
        return fig

    fig = LiveFigure(figure(1.0))
    slider = w.FloatLogSlider(value=1.0, min=-1, max=1, step=0.01, description="temperature",
                              readout_format=".2f", style={"description_width": "initial"})
    text = w.HTML()
    rng = np.random.default_rng(0)

    def redraw(change=None):
        fig.set_figure(figure(slider.value))
        words = rng.choice(list(labels), size=10, p=with_temperature(p, slider.value))
        text.value = "ten samples: <i>" + ", ".join(words) + "</i>"

    slider.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([w.Label("conservative"), slider, w.Label("random")]), fig, text])
