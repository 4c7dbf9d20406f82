"""The applications chapter's views (``genmech.applications_demos``): the figures, sounds and demos of :mod:`genmech.music`,
:mod:`genmech.conditional` and :mod:`genmech.audio`.

* :func:`audio_player`: a waveform as an HTML ``<audio>`` element with its WAV file embedded
  and a caption (it plays on the static page and in a live kernel alike);
* :func:`piano_roll`: melodies drawn as bars of pitch against time;
* :func:`histogram_bars`: distributions side by side (pitch classes, intervals);
* :class:`ChoraleDemo`: the small GPT of :mod:`genmech.gpt` learns Bach's chorale melodies,
  with a temperature slider that changes the sample it draws.
"""
from __future__ import annotations

import base64
import html

import numpy as np
import plotly.graph_objects as go
import torch

from . import music
from .gpt import GPT, GPTConfig
from .live import Demo, Slider
from .lm import random_batch
from .nets import set_learning_rate
from .plotting import COLORS


# --------------------------------------------------------------------------- sound on a page
def audio_player(signal, caption: str, rate: int = 8000, bits: int = 8, limit_kb: int = 200):
    """An ``<audio>`` element with ``signal`` embedded as a WAV file, and a caption saying
    what it is. Refuses a clip over ``limit_kb`` kilobytes (the book's page budget)."""
    from IPython.display import HTML

    data = base64.b64encode(music.wav_bytes(signal, rate, bits)).decode("ascii")
    if len(data) > limit_kb * 1000:
        raise ValueError(f"this clip would weigh {len(data) / 1000:.0f} kB on the page, over "
                         f"{limit_kb} kB: make it shorter")
    seconds = len(signal) / rate
    return HTML(f'<figure class="genmech-audio" style="margin:0.5em 0 1em 0">'
                f'<audio controls preload="none" style="width:100%;max-width:480px" '
                f'src="data:audio/wav;base64,{data}"></audio>'
                f'<figcaption style="font-size:0.9em">{html.escape(caption)} '
                f'({seconds:.{0 if seconds >= 10 else 1}f} s, {rate:,} samples per second)'
                f'</figcaption></figure>')


# --------------------------------------------------------------------------- pictures of melodies
PITCH_NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "G♯", "A", "B♭", "B"]


def pitch_name(midi: int) -> str:
    return f"{PITCH_NAMES[midi % 12]}{midi // 12 - 1}"


def _roll_xy(notes):
    xs, ys, t = [], [], 0.0
    for n in notes:
        if n.pitch is not None:
            xs += [t, t + n.duration * 0.94, None]
            ys += [n.pitch, n.pitch, None]
        t += n.duration
    return xs, ys


def piano_roll(melodies: dict, height: int = 340, title: str = "", low: int = 55, high: int = 84):
    """Melodies as piano rolls, one row of the figure per melody: a bar per note, its height
    the pitch, its length the duration (in quarter notes)."""
    from plotly.subplots import make_subplots

    names = list(melodies)
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=names)
    for i, name in enumerate(names):
        xs, ys = _roll_xy(melodies[name])
        fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(width=6, color=COLORS[i % len(COLORS)]),
                        showlegend=False, hoverinfo="skip", row=i + 1, col=1)
        ticks = [p for p in range(low, high + 1) if p % 12 in (0, 7)]
        fig.update_yaxes(range=[low - 1, high + 1], tickvals=ticks, ticktext=[pitch_name(p) for p in ticks],
                         row=i + 1, col=1)
    fig.update_xaxes(title_text="time (quarter notes)", row=len(names), col=1)
    fig.update_layout(height=height, title=title, margin=dict(l=50, r=15, t=80 if title else 30, b=45))
    return fig


def histogram_bars(histograms: dict, labels, title: str = "", xaxis: str = "", height: int = 300):
    """Several distributions over the same ``labels`` as grouped bars."""
    fig = go.Figure()
    for i, (name, h) in enumerate(histograms.items()):
        fig.add_bar(x=list(labels), y=np.asarray(h, dtype=np.float32), name=name,
                    marker_color=COLORS[i % len(COLORS)])
    fig.update_layout(barmode="group", title=title, height=height, xaxis_title=xaxis,
                      yaxis_title="share", legend=dict(orientation="h", y=-0.3),
                      margin=dict(l=50, r=15, t=40, b=40))
    return fig


# --------------------------------------------------------------------------- the chorale demo
class ChoraleDemo(Demo):
    """A small GPT learns Bach's chorale melodies; a sample at the chosen temperature is
    drawn as a piano roll every ``sample_every`` steps (and at once when the temperature
    changes)."""

    title = "A small GPT learns the melodies of Bach's chorales"
    params = (Slider("lr", 1e-4, 3e-1, 3e-3, log=True, label="learning rate"),
              Slider("temperature", 0.1, 3.0, 1.0, step=0.1, label="temperature T"))
    curves = ("valid nats/note",)
    blowup = {"train loss": 10.0}     # ten times the untrained model's loss: the steps overshoot
    sample_every = 50
    n_notes = 40
    block_size = 64

    def build(self):
        melodies = [m for _, m in music.load_melodies()]
        self.vocab = music.MusicVocab(melodies)
        train, valid, _ = music.split_melodies(melodies)
        self.data = self.vocab.encode_many(train)
        self.valid = self.vocab.encode_many(valid[:12])          # a fixed, quick probe
        self.model = GPT(GPTConfig(vocab_size=len(self.vocab), block_size=self.block_size,
                                   n_layer=2, n_head=4, n_embd=64))
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.hp["lr"], weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(self.seed)
        self.valid_nll = self.validation()
        self.draw()

    def apply(self, changed):
        set_learning_rate(self.opt, self.hp["lr"])
        if "temperature" in changed:
            self.draw()

    def validation(self) -> float:
        return music.nll_per_note(music.token_nll(self.model, self.valid), self.valid, self.vocab.sep)

    def draw(self) -> None:
        """A sample at the current temperature, always from the same seed: only the model
        and the temperature change it."""
        self.sample = music.sample_melody(self.model, self.vocab, self.n_notes,
                                          self.hp["temperature"], seed=self.seed)

    def train_step(self):
        self.model.train()
        x, y = random_batch(self.data, self.block_size, 32, self.gen)
        _, loss = self.model(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if (self.steps + 1) % self.sample_every == 0:
            self.valid_nll = self.validation()
            self.draw()
        return {"train loss": loss.item(), "valid nats/note": self.valid_nll}

    def _title(self):
        return f"a sample at T = {self.hp['temperature']:.1f}"

    def figure(self):
        xs, ys = _roll_xy(self.sample)
        fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=7, color=COLORS[0]),
                                   hoverinfo="skip", showlegend=False))
        ticks = [p for p in range(55, 86) if p % 12 in (0, 7)]
        fig.update_yaxes(range=[54, 86], tickvals=ticks, ticktext=[pitch_name(p) for p in ticks],
                         title="pitch")
        fig.update_xaxes(range=[0, 64], title="time (quarter notes)")
        fig.update_layout(height=330, title=self._title(), margin=dict(l=55, r=15, t=45, b=45))
        return fig

    def frame(self):
        xs, ys = _roll_xy(self.sample)
        return [dict(x=xs, y=ys)]

    def note(self) -> str:
        return (f"validation: {self.valid_nll:.2f} nats per note; the sample is redrawn every "
                f"{self.sample_every} steps and when T changes")
