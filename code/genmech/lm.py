"""Language models: a corpus, a character vocabulary, and the first two rungs of a ladder.

The chapter *Transformers and language models* reads this module. It holds

* :func:`load_corpus` and :func:`split_corpus`: the book's text corpus — the docstrings of
  scikit-learn's public estimators in seven of its modules, real technical English that
  ships (pinned) with the library, about 350,000 characters — split by paragraph into
  train / validation / test;
* :class:`Vocabulary`: characters <-> integers;
* :class:`BigramLM`: next-character probabilities counted from the training text;
* :class:`MLPLM`: the neural language model of Bengio et al. (2003) — embed the previous
  ``context`` characters, concatenate, one hidden layer, a softmax over the vocabulary;
* :func:`random_batch`, :func:`windows`, :func:`cross_entropy` and :func:`train_lm`: the
  training and evaluation code shared with :mod:`genmech.gpt`.

A language model gives ``p(x_t | x_<t)``; its loss is the average negative log-probability
of the true next character (cross-entropy, in nats), and ``exp(loss)`` is its perplexity.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import math
import pathlib
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .nets import fit


# --------------------------------------------------------------------------- the corpus
# The scikit-learn modules whose public classes' docstrings make the corpus.
MODULES = ("cluster", "decomposition", "mixture", "naive_bayes.py", "neighbors", "svm", "tree")


def corpus_files() -> list[pathlib.Path]:
    """The source files of :data:`MODULES` inside the installed scikit-learn (tests excluded).

    The package is located, not imported: importing scikit-learn would take seconds."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the corpus is scikit-learn's documentation: install scikit-learn")
    root = pathlib.Path(spec.origin).parent
    files = []
    for name in MODULES:
        path = root / name
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "tests" not in p.parts)
    if not files:
        raise FileNotFoundError(f"no scikit-learn sources found in {root}")
    return files


def class_docstrings(path: pathlib.Path) -> list[tuple[str, str]]:
    """``(name, docstring)`` of every public top-level class in a Python file, in file order.

    The file is parsed (``ast``), not imported: reading it is fast and runs no code.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            doc = ast.get_docstring(node)
            if doc:
                found.append((node.name, doc))
    return found


@functools.lru_cache(maxsize=1)
def load_corpus() -> str:
    """The docstrings of scikit-learn's public estimators in :data:`MODULES`, as one string.

    About 350,000 characters of technical English: what each estimator does, its parameters,
    attributes, references and examples. Each docstring is headed by its class name. The
    text is pinned with scikit-learn's version in ``requirements.txt``, so every reader (and
    Binder) trains on exactly the same characters.
    """
    parts = [f"{name}\n\n{doc.strip()}" for path in corpus_files() for name, doc in class_docstrings(path)]
    return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class Splits:
    """The corpus in three parts: fit on ``train``, choose on ``valid``, report on ``test``."""

    train: str
    valid: str
    test: str


def split_corpus(text: str, every: int = 10) -> Splits:
    """Split ``text`` by paragraph: of every ``every`` paragraphs, the last goes to test and
    the one before it to validation; the rest train.

    Interleaving spreads every source document over the three parts (a split by file
    would test on a kind of text the model never saw), while whole paragraphs keep each
    part readable.
    """
    if not isinstance(every, int) or every < 3:
        raise ValueError(f"every must be an int >= 3, got {every!r}")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) < every:
        raise ValueError(f"need at least {every} paragraphs to split, got {len(paragraphs)}")
    parts = {"train": [], "valid": [], "test": []}
    for i, p in enumerate(paragraphs):
        slot = i % every
        parts["test" if slot == every - 1 else "valid" if slot == every - 2 else "train"].append(p)
    return Splits(**{k: "\n\n".join(v) + "\n" for k, v in parts.items()})


class Vocabulary:
    """A character vocabulary: ``encode`` maps text to integers, ``decode`` maps them back."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError("a vocabulary needs a non-empty string")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


# --------------------------------------------------------------------------- batches
def random_batch(data: torch.Tensor, context: int, batch_size: int,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of ``context`` tokens and the same windows shifted by one.

    Returns ``x, y`` of shape ``(B, T)``: ``y[b, t]`` is the token that follows ``x[b, :t+1]``.
    """
    if len(data) <= context:
        raise ValueError(f"data has {len(data)} tokens, need more than context={context}")
    starts = torch.randint(0, len(data) - context, (batch_size,), generator=generator)
    offsets = torch.arange(context)
    x = data[starts[:, None] + offsets]          # (B, T)
    y = data[starts[:, None] + offsets + 1]      # (B, T)
    return x, y


def windows(data: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every token of ``data`` (after the first) with the ``context`` tokens before it.

    Returns ``x`` of shape ``(N, context)`` and ``y`` of shape ``(N,)``; positions before the
    start of the text are filled with token 0 (the newline, which also begins a paragraph).
    """
    padded = torch.cat([torch.zeros(context, dtype=torch.long), data])
    idx = torch.arange(context)[None, :] + torch.arange(1, len(data))[:, None]   # (N, context)
    return padded[idx], data[1:]


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-probability (nats) of ``targets`` under ``softmax(logits)``."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# --------------------------------------------------------------------------- rung 1: bigrams
class BigramLM:
    """``p(x_t = j | x_{t-1} = i) = (N_ij + alpha) / (N_i + alpha V)``: counted, then smoothed.

    ``N_ij`` counts how often character ``j`` follows character ``i`` in the training text;
    ``alpha`` (add-alpha, or Laplace, smoothing) keeps unseen pairs possible.
    """

    def __init__(self, vocab_size: int, alpha: float = 0.1):
        if alpha <= 0:
            raise ValueError(f"alpha must be positive (else unseen pairs get probability 0), got {alpha}")
        self.vocab_size, self.alpha = vocab_size, alpha
        self.counts = torch.zeros(vocab_size, vocab_size)

    def fit(self, data: torch.Tensor) -> "BigramLM":
        self.counts.index_put_((data[:-1], data[1:]), torch.ones(len(data) - 1), accumulate=True)
        return self

    @property
    def probs(self) -> torch.Tensor:
        """The ``(V, V)`` table of next-character probabilities; each row sums to 1."""
        smoothed = self.counts + self.alpha
        return smoothed / smoothed.sum(1, keepdim=True)

    def loss(self, data: torch.Tensor) -> float:
        """Cross-entropy (nats per character) on ``data``."""
        return -self.probs[data[:-1], data[1:]].log().mean().item()


# --------------------------------------------------------------------------- rung 2: an MLP
class MLPLM(nn.Module):
    """Bengio et al. (2003): ``logits = W2 tanh(W1 [e(x_{t-n}); ...; e(x_{t-1})] + b1) + b2``."""

    def __init__(self, vocab_size: int, context: int = 8, n_embd: int = 16, hidden: int = 128):
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab_size, n_embd)          # e: a vector per character
        self.hidden = nn.Linear(context * n_embd, hidden)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(B, context)`` -> next-token logits ``(B, V)``."""
        e = self.embed(x).flatten(1)                           # (B, context * n_embd)
        return self.out(torch.tanh(self.hidden(e)))            # (B, V)

    def loss_on(self, data: torch.Tensor) -> float:
        """Cross-entropy (nats per character) of every next character of ``data``."""
        x, y = windows(data, self.context)
        with torch.no_grad():
            return cross_entropy(self(x), y).item()


def train_lm(model: nn.Module, data: torch.Tensor, steps: int, *, context: int,
             batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
             seconds: float | None = None, on_step=None) -> list[float]:
    """Train ``model`` with Adam on random windows of ``data``; return the loss of each step.

    Works for both :class:`MLPLM` (predicts the last position) and :class:`genmech.gpt.GPT`
    (predicts every position). Stops after ``steps`` steps, after ``seconds`` seconds, or
    when ``on_step(step, loss)`` returns True.
    """
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    start = time.perf_counter()

    def batch_loss():
        x, y = random_batch(data, context, batch_size, gen)
        return lm_loss(model, x.to(device), y.to(device))

    def stop(step, loss):                       # the callback asked to stop, or time is up
        return ((on_step is not None and on_step(step, loss))
                or (seconds is not None and time.perf_counter() - start > seconds))

    return fit(opt, batch_loss, steps, on_step=stop)


def lm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of either model on a batch ``x, y`` of shape ``(B, T)``."""
    if isinstance(model, MLPLM):
        return cross_entropy(model(x), y[:, -1])
    logits, loss = model(x, y)
    return loss


def perplexity(loss: float) -> float:
    """``exp(loss)``: the number of equally likely choices that would be as surprising."""
    return math.exp(loss)
