"""The demos and figures of the chapter *Challenges and limitations* (genmech.challenges_demos):
the views of :mod:`genmech.fairness` and :mod:`genmech.watermark`.

Section 1, *Bias in, bias out*:

* :func:`judged_mix`, :func:`gan_class_mix` and :func:`vae_class_mix`: train the book's
  digit GAN (:mod:`genmech.gan`) or VAE (:mod:`genmech.vae`) on a skewed set of digits and
  read the class mix of what it draws with the digit judge (:func:`genmech.digits.judge`);
  :func:`amplification_figure` draws the amplification per class;
* :func:`occupation_lm` and :func:`completion_rates`: a small GPT (:mod:`genmech.gpt`)
  trained on a corpus with a stated skew, and how often it completes with each pronoun;
* :func:`hiring_experiment` and :func:`tradeoff_figure`: a screening model trained on
  biased hiring decisions, measured and mitigated with fairlearn (Weerts et al., 2023);
* :class:`MinorityShare`: the live demo — a GAN training on digits in which one class is
  a minority of a share the reader sets, with the generated class mix updating.

Section 4, *Authenticity*: :func:`small_lm` (the transformer chapter's GPT on the book's
corpus), the watermark experiments and :class:`WatermarkDial`, and :func:`detector_curve`
(telling real digits from generated ones).
"""
from __future__ import annotations

import html
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import digits, fairness, gan, gpt, lm, vae
from .live import Choice, Demo, Slider
from .plotting import COLORS, compact

CLASSES = 10


# --------------------------------------------------------------------------- skewed digits
def judged_mix(images) -> np.ndarray:
    """The share of each of the ten digits among ``images`` (n, 64), as the judge reads them."""
    return fairness.class_shares(digits.judge(images).predictions, CLASSES)


def digit_gan(X: torch.Tensor, hidden: int = 128) -> gan.GAN:
    """The digit GAN of the GAN chapter (section 5): noise 16, two hidden layers of ``hidden``
    units, a sigmoid output, non-saturating loss, Adam 2e-3 with beta1 = 0.5, batches of 64."""
    cfg = gan.GANConfig(dataset="digits", loss="non-saturating", lr_d=2e-3, lr_g=2e-3,
                        hidden=hidden, layers=2, noise_dim=16, batch=64)
    return gan.GAN(X, cfg, out_activation="sigmoid")


def gan_class_mix(X: torch.Tensor, seed: int = 0, steps: int = 1200, hidden: int = 128,
                  snapshots: int = 3, n: int = 1000) -> np.ndarray:
    """Train the digit GAN on ``X`` and return the judged class mix of its samples, averaged
    over ``snapshots`` evenly spaced checkpoints of the last half of training (a GAN's mix
    drifts from step to step; one snapshot would overstate a passing swing)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = digit_gan(X, hidden)
        marks = set(np.linspace(steps // 2, steps, snapshots + 1).astype(int)[1:].tolist())
        z = torch.rand(n, 16, generator=torch.Generator().manual_seed(123)) * 2 - 1
        mixes = []
        for step in range(1, steps + 1):
            model.step()
            if step in marks:
                mixes.append(judged_mix(model.sample(n, z)))
    return np.mean(mixes, 0)


def vae_class_mix(X: torch.Tensor, seed: int = 0, steps: int = 1500, n: int = 2000) -> np.ndarray:
    """Train the VAE chapter's VAE (2D latent, β = 1) on ``X`` and return the judged class mix
    of ``n`` images decoded from prior samples."""
    with torch.random.fork_rng():
        model, _ = vae.train_vae(vae.Config(latent=2, seed=seed), steps=steps, data=X)
    return judged_mix(vae.prior_samples(model, n, seed=seed))


def amplification_figure(amp: dict, minority: int, title: str = "") -> go.Figure:
    """Grouped bars of amplification per class: ``amp`` maps a name to an array (runs, 10);
    a bar is the mean over runs, its whiskers the lowest and highest run."""
    labels = [f"{c}{' (minority)' if c == minority else ''}" for c in range(CLASSES)]
    fig = go.Figure()
    for i, (name, runs) in enumerate(amp.items()):
        runs = np.atleast_2d(runs)
        mean = runs.mean(0)
        fig.add_bar(x=labels, y=compact(mean), name=name, marker_color=COLORS[i],
                    error_y=dict(type="data", symmetric=False, array=compact(runs.max(0) - mean),
                                 arrayminus=compact(mean - runs.min(0)), thickness=1))
    fig.add_hline(y=1, line=dict(color="#555", dash="dash"))
    fig.update_layout(title=title, barmode="group", height=360, yaxis_title="generated ÷ training share",
                      xaxis_title="digit class", margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0))
    return fig


# --------------------------------------------------------------------------- skewed text
def occupation_lm(sentences: int = 6000, seed: int = 0):
    """A small GPT (2 blocks, width 48) trained on :func:`genmech.fairness.occupation_corpus`:
    300 Adam steps at 3e-3, then 200 at 3e-4 with larger batches, so that the rates it
    learned do not depend on the last few batches. Returns ``(model, vocab, text)``."""
    text = fairness.occupation_corpus(sentences, seed=seed)
    vocab = lm.Vocabulary(text)
    data = vocab.encode(text)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = gpt.GPT(gpt.GPTConfig(vocab_size=len(vocab), block_size=32, n_layer=2, n_head=4, n_embd=48))
        lm.train_lm(model, data, steps=300, context=32, batch_size=32, lr=3e-3, seed=seed)
        lm.train_lm(model, data, steps=200, context=32, batch_size=64, lr=3e-4, seed=seed + 1)
    return model.eval(), vocab, text


@torch.no_grad()
def completion_probability(model, vocab, prompt: str, completion: str, tau: float = 1.0) -> float:
    """P(the model continues ``prompt`` with ``completion``) when each character is sampled
    at temperature ``tau``: the product of the tempered next-character probabilities."""
    ids = vocab.encode(prompt + completion)[None]
    logp = torch.log_softmax(model(ids)[0][0] / tau, -1)                  # (T, V)
    start = len(prompt)
    return float(torch.exp(sum(logp[t - 1, ids[0, t]] for t in range(start, ids.shape[1]))))


def completion_rates(model, vocab, jobs, tau: float = 1.0) -> np.ndarray:
    """For each occupation, P("she") / (P("she") + P("he")) after "the <job> said"."""
    out = []
    for job in jobs:
        prompt = f"\nthe {job} said"
        she = completion_probability(model, vocab, prompt, " she ", tau)
        he = completion_probability(model, vocab, prompt, " he ", tau)
        out.append(she / (she + he))
    return np.array(out)


def corpus_rates(text: str, jobs) -> np.ndarray:
    """The share of "she" after each occupation in the corpus itself."""
    lines = [line.split() for line in text.splitlines() if line]
    return np.array([np.mean([w[3] == "she" for w in lines if w[1] == job]) for job in jobs])


def rates_figure(jobs, series: dict) -> go.Figure:
    """Markers of P("she" | occupation), one trace per entry of ``series``."""
    fig = go.Figure()
    symbols = ["circle", "diamond", "square", "x"]
    for i, (name, rates) in enumerate(series.items()):
        fig.add_scatter(x=list(jobs), y=compact(rates), mode="markers+lines", name=name,
                        marker=dict(size=10, symbol=symbols[i % 4], color=COLORS[i]),
                        line=dict(width=1, dash="dot"))
    fig.update_layout(height=360, yaxis=dict(title='share of "she"', range=[-0.03, 1.03]),
                      xaxis_title="occupation in the prompt", margin=dict(l=60, r=20, t=40, b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0))
    return fig


# --------------------------------------------------------------------------- hiring
def hiring_experiment(n_train: int = 4000, n_test: int = 4000, bounds=(0.005, 0.03),
                      seed: int = 0) -> dict:
    """Train a logistic regression on biased hiring decisions; mitigate it with fairlearn.

    Returns a dict with the test set (``test``), the plain model's predictions (``plain``),
    fairlearn's ExponentiatedGradient (Agarwal et al., 2018) under a demographic-parity bound
    for each of ``bounds`` (``reductions``: list of (bound, predictions)) and its
    ThresholdOptimizer (Hardt et al., 2016) for equalized odds (``equalized``).
    """
    import warnings

    from fairlearn.postprocessing import ThresholdOptimizer
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient
    from sklearn.linear_model import LogisticRegression

    train = fairness.hiring_data(n_train, seed=seed)
    test = fairness.hiring_data(n_test, seed=seed + 1)
    plain = LogisticRegression().fit(train.X, train.y)
    out = {"train": train, "test": test, "plain": plain.predict(test.X), "reductions": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for bound in bounds:
            mitigator = ExponentiatedGradient(LogisticRegression(), DemographicParity(difference_bound=bound))
            mitigator.fit(train.X, train.y, sensitive_features=train.group)
            out["reductions"].append((bound, mitigator.predict(test.X, random_state=seed)))
        post = ThresholdOptimizer(estimator=plain, constraints="equalized_odds", prefit=True,
                                  predict_method="predict_proba")
        post.fit(train.X, train.y, sensitive_features=train.group)
        out["equalized"] = post.predict(test.X, sensitive_features=test.group, random_state=seed)
    return out


def tradeoff_points(result: dict) -> list[dict]:
    """For the plain model and each mitigated one: accuracy against the historical labels,
    accuracy against the group-blind decisions (merit), and the demographic parity difference."""
    test = result["test"]
    rows = [("plain", result["plain"])] + [(f"bound {b:g}", p) for b, p in result["reductions"]]
    return [dict(name=name, accuracy=float((p == test.y).mean()), merit=float((p == test.merit).mean()),
                 dp=fairness.demographic_parity_difference(p, test.group)) for name, p in rows]


def tradeoff_figure(points: list[dict]) -> go.Figure:
    """Accuracy against the demographic parity difference, one marker per model."""
    x = [p["dp"] for p in points]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[p["accuracy"] for p in points], mode="markers+lines+text", name="against the historical labels",
                    text=[p["name"] for p in points], textposition="top center",
                    marker=dict(size=9, color=COLORS[0]), textfont=dict(size=10))
    fig.add_scatter(x=x, y=[p["merit"] for p in points], mode="markers+lines", name="against group-blind decisions",
                    marker=dict(size=9, color=COLORS[2], symbol="diamond"))
    fig.update_layout(height=380, xaxis_title="demographic parity difference (0 = parity)",
                      yaxis_title="accuracy on the test set", margin=dict(l=60, r=20, t=40, b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0))
    return fig


# --------------------------------------------------------------------------- the live demo
class MinorityShare(Demo):
    """The digit GAN (256 hidden units, as in the GAN chapter) trains on digits in which one
    class makes up the share the reader sets.

    Left: each class's share of the training set and of what the generator draws (500
    samples from fixed noise, read by the judge every ``every`` steps). Right: 20 samples.
    """

    title = "Bias in, bias out: a GAN trained on a skewed class mix"
    params = (
        Slider("share", 0.01, 0.5, 0.05, step=0.01, restart=True, label="share of the chosen class"),
        Choice("minority", tuple(range(CLASSES)), 8, label="chosen class"),
    )
    curves = ("amplification",)
    blowup = {"d_loss": 20.0, "g_loss": 20.0}   # one network has won outright (as DigitsGAN)
    live_width = 760
    every = 50
    SHOWN = 20

    def build(self):
        X, y, _, _ = digits.load()
        self.minority = int(self.hp["minority"])
        self.X, self.y = fairness.skew(X, y, self.minority, self.hp["share"], seed=self.seed)
        self.train_mix = judged_mix(self.X)
        self.gan = digit_gan(self.X, hidden=256)      # the GAN chapter's DigitsGAN, unchanged
        gen = torch.Generator().manual_seed(self.seed + 1)
        self.z = torch.rand(500, 16, generator=gen) * 2 - 1
        self.mix = judged_mix(self.gan.sample(500, self.z))

    def amplification(self) -> float:
        """The chosen class's generated share ÷ its training share."""
        return float(self.mix[self.minority] / self.train_mix[self.minority])

    def train_step(self):
        metrics = self.gan.step()
        if (self.steps + 1) % self.every == 0:
            self.mix = judged_mix(self.gan.sample(500, self.z))
        return {**metrics, "amplification": self.amplification()}

    def note(self) -> str:
        return (f"class {self.minority}: {100 * self.train_mix[self.minority]:.1f} % of the training set, "
                f"{100 * self.mix[self.minority]:.1f} % of the samples")

    def _tiles(self):
        return digits.tile(self.gan.sample(self.SHOWN, self.z[:self.SHOWN]), ncols=5)[::-1]

    def figure(self):
        fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.08,
                            subplot_titles=("class shares (judged)", "samples"))
        labels = [str(c) for c in range(CLASSES)]
        colors = [COLORS[3] if c == self.minority else COLORS[0] for c in range(CLASSES)]
        fig.add_bar(x=labels, y=compact(self.train_mix), name="training set", marker_color="#BBBBBB",
                    row=1, col=1)
        fig.add_bar(x=labels, y=compact(self.mix), name="generated", marker_color=colors, row=1, col=1)
        fig.add_heatmap(z=compact(self._tiles()), colorscale="Greys", zmin=0, zmax=1, showscale=False,
                        hoverinfo="skip", row=1, col=2)
        fig.update_xaxes(type="category", title_text="digit", row=1, col=1)
        fig.update_yaxes(range=[0, 0.6], title_text="share", row=1, col=1)
        fig.update_xaxes(visible=False, row=1, col=2)
        fig.update_yaxes(visible=False, scaleanchor="x2", row=1, col=2)
        fig.update_layout(barmode="group", height=400, margin=dict(l=50, r=10, t=80, b=40),
                          legend=dict(orientation="h", y=1.12, yanchor="bottom", x=0))
        return fig

    def frame(self):
        return [None, dict(y=compact(self.mix)), dict(z=compact(self._tiles()))]


# =========================================================================== section 4
@lru_cache(maxsize=1)
def small_lm(steps: int = 500, seed: int = 0):
    """The transformer chapter's small GPT (default :class:`genmech.gpt.GPTConfig`) trained on
    the book's corpus for ``steps`` Adam steps; cached, so a page and its demo share it.
    Returns ``(model, vocab, data)`` with ``data`` the corpus splits as token tensors."""
    vocab, data = gpt.prepare_corpus()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = gpt.GPT(gpt.GPTConfig(vocab_size=len(vocab)))
        lm.train_lm(model, data["train"], steps=steps, context=model.config.block_size,
                    batch_size=32, lr=3e-3, seed=seed)
    return model.eval(), vocab, data


def z_by_length(ids: torch.Tensor, table: torch.Tensor, gamma: float, start: int, lengths) -> np.ndarray:
    """z-scores of the texts ``ids`` (B, L) scored from position ``start`` over each of the
    generated ``lengths``: shape (B, len(lengths))."""
    from .watermark import green_count, z_score
    return np.array([[z_score(*green_count(row[start - 1:start + n], table), gamma) for n in lengths]
                     for row in ids])


def detection_figure(lengths, curves: dict, threshold: float) -> go.Figure:
    """Share of texts flagged (z above ``threshold``) against text length, one line per entry."""
    fig = go.Figure()
    for i, (name, rates) in enumerate(curves.items()):
        fig.add_scatter(x=list(lengths), y=compact(rates), mode="lines+markers", name=name,
                        marker=dict(color=COLORS[i]), line=dict(color=COLORS[i]))
    fig.update_layout(height=360, xaxis_title="generated characters scored", yaxis_title=f"share flagged (z > {threshold:g})",
                      yaxis=dict(range=[-0.03, 1.03]), margin=dict(l=60, r=20, t=40, b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0))
    return fig


def strength_figure(deltas, ppl, z, length: int = 120) -> go.Figure:
    """Perplexity (left axis) and mean z-score (right axis) against the watermark strength."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=list(deltas), y=compact(ppl), mode="lines+markers", name="perplexity under the plain model",
                    marker=dict(color=COLORS[3]), line=dict(color=COLORS[3]), secondary_y=False)
    fig.add_scatter(x=list(deltas), y=compact(z), mode="lines+markers", name=f"mean z-score ({length} characters)",
                    marker=dict(color=COLORS[0]), line=dict(color=COLORS[0], dash="dot"), secondary_y=True)
    fig.update_xaxes(title_text="watermark strength δ")
    fig.update_yaxes(title_text="perplexity", secondary_y=False)
    fig.update_yaxes(title_text="z-score", secondary_y=True)
    fig.update_layout(height=360, margin=dict(l=60, r=60, t=40, b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0))
    return fig


def detector_curve(checkpoints=(100, 400, 1000, 2000), seed: int = 0) -> dict:
    """Train the digit GAN and, at each checkpoint, a fresh detector that tells real digits from
    generated ones: a logistic regression on the 64 pixels (scikit-learn), trained on the
    training digits against as many samples, tested on the test digits against fresh ones.

    Returns a dict: ``steps``, ``accuracy`` (test accuracy of each detector; 0.5 is chance),
    ``confidence`` (the judge's mean confidence on the samples) and ``samples`` (20 digits
    of the last checkpoint)."""
    from sklearn.linear_model import LogisticRegression

    X, _, X_test, _ = digits.load()
    labels = np.r_[np.zeros(len(X)), np.ones(len(X))]
    truth = np.r_[np.zeros(len(X_test)), np.ones(len(X_test))]
    out = {"steps": [], "accuracy": [], "confidence": []}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = digit_gan(X)
        done = 0
        for mark in checkpoints:
            for _ in range(mark - done):
                model.step()
            done = mark
            fake_train, fake_test = model.sample(len(X)), model.sample(len(X_test))
            clf = LogisticRegression(max_iter=3000).fit(torch.cat([X, fake_train]).numpy(), labels)
            out["steps"].append(mark)
            out["accuracy"].append(float((clf.predict(torch.cat([X_test, fake_test]).numpy()) == truth).mean()))
            out["confidence"].append(digits.judge(fake_test).confidence)
    out["samples"] = fake_test[:20]
    return out


# --------------------------------------------------------------------------- the live dial
def _colour_text(chars: list[str], green: list[bool], width: int = 40):
    """Positions, characters and colours of a text laid out ``width`` characters a row."""
    x = [i % width for i in range(len(chars))]
    y = [-(i // width) for i in range(len(chars))]
    shown = ["␣" if c == " " else "⏎" if c == "\n" else c for c in chars]
    colours = [COLORS[2] if g else COLORS[3] for g in green]
    return x, y, shown, colours


class WatermarkDial(Demo):
    """The small GPT writes, one character per step, with a green-list watermark of strength
    δ that the reader turns while it writes. Left: the text, each character green or red by
    the secret key. Right: the detector's z-score as the text grows, and the threshold."""

    title = "A watermark dial: the small GPT writes; the detector scores each character"
    params = (
        Slider("delta", 0.0, 8.0, 2.0, step=0.5, label="watermark strength δ"),
        Slider("gamma", 0.1, 0.9, 0.5, step=0.05, restart=True, label="green share γ"),
    )
    curves = ("z-score",)
    blowup = {}          # nothing can diverge: no parameter is trained, the model only samples
    live_width = 820
    prompt = "The "
    length = 240         # characters of one text; then a new text starts
    threshold = 4.0

    def build(self):
        from .watermark import green_table
        self.model, self.vocab, _ = small_lm()
        self.table = green_table(len(self.vocab), self.hp["gamma"], key=42)
        self.gen = torch.Generator().manual_seed(self.seed)
        self.new_text()

    def new_text(self):
        self.ids = self.vocab.encode(self.prompt)
        self.zs: list[float] = []

    def apply(self, changed):
        pass                 # δ is read at every step

    @torch.no_grad()
    def train_step(self):
        from .watermark import green_count, z_score
        if len(self.ids) - len(self.prompt) >= self.length:
            self.new_text()
        logits = self.model(self.ids[-self.model.config.block_size:][None])[0][0, -1]
        logits = logits + self.hp["delta"] * self.table[self.ids[-1]].float()
        nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=self.gen)
        self.ids = torch.cat([self.ids, nxt])
        green, scored = green_count(self.ids[len(self.prompt) - 1:], self.table)
        z = z_score(green, scored, self.hp["gamma"])
        self.zs.append(z)
        return {"z-score": z, "green share": green / scored}

    def generated(self) -> tuple[list[str], list[bool]]:
        ids = self.ids[len(self.prompt) - 1:].tolist()
        chars = [self.vocab.chars[i] for i in ids[1:]]
        green = [bool(self.table[a, b]) for a, b in zip(ids[:-1], ids[1:])]
        return chars, green

    def note(self) -> str:
        z = self.zs[-1] if self.zs else 0.0
        verdict = "watermarked" if z > self.threshold else "not detected"
        return f"{len(self.zs)} characters, z = {z:.1f}: {verdict} (threshold {self.threshold:g})"

    def _traces(self):
        x, y, text, colours = _colour_text(*self.generated())
        n = np.arange(1, len(self.zs) + 1)
        return [dict(x=x, y=y, text=text, textfont=dict(color=colours)),
                dict(x=compact(n), y=compact(self.zs))]

    def figure(self):
        text, z = self._traces()
        fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.1,
                            subplot_titles=("the text (green / red by the key)", "detector z-score"))
        fig.add_scatter(mode="text", textfont=dict(family="monospace", size=12, color=text["textfont"]["color"]),
                        x=text["x"], y=text["y"], text=text["text"], hoverinfo="skip", showlegend=False,
                        row=1, col=1)
        fig.add_scatter(x=z["x"], y=z["y"], mode="lines", line=dict(color=COLORS[0]), showlegend=False,
                        row=1, col=2)
        fig.add_hline(y=self.threshold, line=dict(color="#555", dash="dash"), row=1, col=2)
        fig.update_xaxes(visible=False, range=[-1, 40], row=1, col=1)
        fig.update_yaxes(visible=False, range=[-self.length // 40 - 0.5, 0.5], row=1, col=1)
        fig.update_xaxes(title_text="characters", range=[0, self.length], row=1, col=2)
        fig.update_yaxes(range=[-4, 16], row=1, col=2)
        fig.update_layout(height=360, margin=dict(l=20, r=20, t=50, b=40))
        return fig

    def frame(self):
        return self._traces()
