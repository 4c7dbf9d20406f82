"""Fine-tuning a pretrained model: low-rank adaptation and direct preference optimization.

The chapter *How a generative AI system works, end to end* (section 2, *Training and
fine-tuning*) reads this module. It holds

* :class:`LoRALinear`: low-rank adaptation (LoRA, Hu et al., 2021) of one ``nn.Linear``.
  The pretrained weight ``W`` (out x in) is frozen; the layer learns a low-rank change

  ``h = W x + b + (alpha / r) B A x``,   ``A``: (r x in), ``B``: (out x r), ``B = 0`` at start,

  so at initialisation the wrapped model computes exactly what the pretrained one did.
  :meth:`LoRALinear.merged` folds ``W + (alpha / r) B A`` back into one plain layer;
* :func:`add_lora` / :func:`merge_lora`: wrap (or merge) every linear layer of a model's
  transformer blocks and freeze everything else;
* :func:`finetune`: train a language model's trainable parameters on a corpus, measuring
  the loss on two domains as it goes;
* :func:`dpo_loss` (direct preference optimization, Rafailov et al., 2023),
  :func:`response_logprob`, :func:`sample_responses` and :func:`response_kl`, with a toy
  assistant task (:func:`toy_prompts`, :func:`toy_response`, :func:`toy_score`): supervised
  fine-tuning (SFT) on prompt -> response pairs, then preference optimization.

Torch only: the equations of the page, in code.
"""
from __future__ import annotations

import copy
import functools
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from .gpt import GPT, GPTConfig
from .lm import Vocabulary, load_corpus, random_batch, split_corpus, train_lm
from .pipeline import clean_text, function_docstrings


# --------------------------------------------------------------------------- LoRA
class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update: ``W x + b + (alpha/r) B A x``.

    ``A`` starts small and random (Kaiming-uniform, as in Hu et al.'s code) and ``B`` at zero,
    so the update starts at zero and the first gradient reaches ``B`` through ``A``. The
    rank ``r`` must be at most ``min(in, out)``: a larger rank adds parameters but no
    expressive power (``B A`` can never have rank above ``min(in, out)``).
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"LoRA wraps an nn.Linear, got {type(base).__name__}")
        largest = min(base.in_features, base.out_features)
        if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= largest:
            raise ValueError(f"LoRA rank must be an int between 1 and min(in, out) = {largest} "
                             f"for a {base.in_features} -> {base.out_features} layer, got {rank!r}")
        self.base, self.rank = base, rank
        self.alpha = float(rank if alpha is None else alpha)
        self.scaling = self.alpha / rank
        for p in self.base.parameters():
            p.requires_grad_(False)                                   # W and b stay frozen
        self.A = nn.Parameter(torch.empty(rank, base.in_features))    # (r, in)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))   # (out, r)
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))

    def delta(self) -> torch.Tensor:
        """The learned change of the weight, ``(alpha / r) B A``: (out, in), rank <= r."""
        return self.scaling * self.B @ self.A

    def forward(self, x: torch.Tensor) -> torch.Tensor:             # (..., in) -> (..., out)
        return self.base(x) + self.scaling * (x @ self.A.T) @ self.B.T

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """One plain layer with ``W' = W + (alpha / r) B A``: same outputs, no extra cost."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        out.weight.copy_(self.base.weight + self.delta())
        if self.base.bias is not None:
            out.bias.copy_(self.base.bias)
        return out


def _linear_layers(model: nn.Module, where: str):
    """``(parent, name, layer)`` for every ``nn.Linear`` whose qualified name contains ``where``."""
    found = []
    for pname, parent in model.named_modules():
        for name, child in parent.named_children():
            full = f"{pname}.{name}" if pname else name
            if isinstance(child, nn.Linear) and where in full:
                found.append((parent, name, child))
    return found


def add_lora(model: nn.Module, rank: int, alpha: float | None = None, where: str = "blocks") -> int:
    """Freeze ``model`` and wrap every ``nn.Linear`` inside ``where`` (by default the
    transformer blocks: attention's ``qkv`` and ``proj``, the feed-forward ``fc`` and
    ``proj``) in a :class:`LoRALinear` of rank ``rank``. Returns the number of trainable
    parameters. Raises ``ValueError`` (before changing anything) if a layer is too small
    for the rank."""
    layers = _linear_layers(model, where)
    if not layers:
        raise ValueError(f"no nn.Linear layer inside {where!r}")
    for _, _, layer in layers:                      # check every layer before touching any
        largest = min(layer.in_features, layer.out_features)
        if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= largest:
            raise ValueError(f"LoRA rank must be an int between 1 and {largest} (the smallest "
                             f"side of a {layer.in_features} -> {layer.out_features} layer), got {rank!r}")
    for p in model.parameters():
        p.requires_grad_(False)
    for parent, name, layer in layers:
        setattr(parent, name, LoRALinear(layer, rank, alpha))
    return trainable_parameters(model)


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` in ``model`` by its merged plain layer (in place)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear):
                setattr(parent, name, child.merged())
    return model


def trainable_parameters(model: nn.Module) -> int:
    """The number of parameters an optimizer will change (``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- two domains
@functools.lru_cache(maxsize=1)
def domains() -> tuple[Vocabulary, dict]:
    """The vocabulary of the book's corpus and token tensors of two domains, each split:
    ``old`` (scikit-learn's estimator docstrings, :func:`genmech.lm.load_corpus`) and
    ``new`` (function docstrings of Python's standard library,
    :func:`genmech.pipeline.function_docstrings`, cleaned to the old vocabulary).
    Keys ``old_train``, ``old_valid``, ``new_train``, ``new_valid``."""
    text = load_corpus()
    vocab = Vocabulary(text)
    old = split_corpus(text)
    new = split_corpus(clean_text(function_docstrings(), set(vocab.chars)))
    return vocab, {"old_train": vocab.encode(old.train), "old_valid": vocab.encode(old.valid),
                   "new_train": vocab.encode(new.train), "new_valid": vocab.encode(new.valid)}


# The pretrained model of the chapter: small enough to pretrain in seconds.
PRETRAIN = dict(n_layer=2, n_head=4, n_embd=48, block_size=32)
PRETRAIN_STEPS = 600


@functools.lru_cache(maxsize=2)
def _pretrained_state(steps: int, seed: int):
    vocab, data = domains()
    config = GPTConfig(vocab_size=len(vocab), **PRETRAIN)
    with torch.random.fork_rng(), torch.enable_grad():   # leave the caller's random numbers alone
        torch.manual_seed(seed)
        model = GPT(config)
        start = time.perf_counter()
        losses = train_lm(model, data["old_train"], steps, context=config.block_size,
                          batch_size=32, lr=3e-3, seed=seed)
        seconds = time.perf_counter() - start
    return config, {k: v.clone() for k, v in model.state_dict().items()}, losses, seconds


def pretrained(steps: int = PRETRAIN_STEPS, seed: int = 0) -> GPT:
    """A fresh copy of the small GPT pretrained on the old domain (trained once per process,
    like the digit judge; each call returns an independent copy to fine-tune)."""
    config, state, _, _ = _pretrained_state(steps, seed)
    model = GPT(config)
    model.load_state_dict(state)
    return model.eval()


def pretraining_record(steps: int = PRETRAIN_STEPS, seed: int = 0) -> tuple[list[float], float]:
    """The training losses and the wall time of the pretraining run behind :func:`pretrained`."""
    _, _, losses, seconds = _pretrained_state(steps, seed)
    return losses, seconds


def fresh_like(model: GPT, seed: int = 0) -> GPT:
    """An untrained GPT of the same configuration: the "from scratch" baseline."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return GPT(copy.deepcopy(model.config))


# --------------------------------------------------------------------------- fine-tuning
def finetune(model: nn.Module, data: torch.Tensor, steps: int, *, lr: float = 3e-3,
             batch_size: int = 32, seed: int = 0, evaluate: dict | None = None,
             every: int = 50, target: tuple[str, float] | None = None) -> dict:
    """Train the trainable parameters of a GPT on ``data`` with AdamW.

    ``evaluate`` maps names to token tensors scored (``model.loss_on``) every ``every`` steps;
    ``target = (name, loss)`` also records the first step at which that loss is reached.
    Returns ``{"train": [...], "steps": [...], name: [...], "reached": step or None,
    "seconds": s}``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    T = model.config.block_size
    evaluate = evaluate or {}
    out = {"train": [], "steps": [], "reached": None, **{k: [] for k in evaluate}}
    start = time.perf_counter()

    def score(step):
        model.eval()
        out["steps"].append(step)
        for name, d in evaluate.items():
            out[name].append(model.loss_on(d))
        if target and out["reached"] is None and out[target[0]][-1] <= target[1]:
            out["reached"] = step
        model.train()

    score(0)
    for step in range(1, steps + 1):
        x, y = random_batch(data, T, batch_size, gen)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        out["train"].append(loss.item())
        if step % every == 0 or step == steps:
            score(step)
    model.eval()
    out["seconds"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------- a toy assistant
# Tokens: digits 0-9, 10 = "?" (end of the prompt), 11 = "." (end of the response).
QUESTION, STOP, TOY_VOCAB = 10, 11, 12


def toy_prompts(n: int, length: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` prompts ``d1 .. dL ?``: random digits, then the question mark. (n, L + 1)."""
    digits = torch.randint(0, 10, (n, length), generator=generator)
    return torch.cat([digits, torch.full((n, 1), QUESTION)], 1)


def toy_response(prompts: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Two correct answers to "repeat my digits": in order (``style`` 0) or reversed (1),
    then the stop token. (n, L + 1)."""
    digits = prompts[:, :-1]
    answer = torch.where(style[:, None].bool(), digits.flip(1), digits)
    return torch.cat([answer, torch.full((len(digits), 1), STOP)], 1)


def toy_score(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """The toy labeller's preference: 2 for the digits reversed (the answer it prefers),
    1 for the digits in order (correct but not preferred), 0 for anything else."""
    rev = toy_response(prompts, torch.ones(len(prompts), dtype=torch.long))
    fwd = toy_response(prompts, torch.zeros(len(prompts), dtype=torch.long))
    return 2 * (responses == rev).all(1).long() + (responses == fwd).all(1).long() * (rev != fwd).any(1).long()


def response_logprob(model: nn.Module, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """``log pi(y | x) = sum_t log pi(y_t | x, y_<t)``: the log-probability of each whole
    response given its prompt, (n,)."""
    seq = torch.cat([prompts, responses], 1)                          # (n, P + R)
    logits, _ = model(seq[:, :-1])                                    # (n, P + R - 1, V)
    logp = F.log_softmax(logits, -1)
    P = prompts.shape[1]
    picked = logp[:, P - 1:].gather(-1, responses[..., None])[..., 0]   # (n, R)
    return picked.sum(1)


def sft_loss(model: nn.Module, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Supervised fine-tuning: the mean negative log-likelihood of the response tokens only
    (the prompt is given, not learned)."""
    return -response_logprob(model, prompts, responses).mean() / responses.shape[1]


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             ref_chosen: torch.Tensor, ref_rejected: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """Direct preference optimization (Rafailov et al., 2023), averaged over pairs:

    ``-log sigmoid(beta [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])``

    where ``y_w`` is the preferred (chosen) response, ``y_l`` the rejected one, ``pi`` the
    model being trained and ``pi_ref`` the frozen starting model. Arguments are the four
    sequence log-probabilities (n,)."""
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


@torch.no_grad()
def sample_responses(model: nn.Module, prompts: torch.Tensor, length: int,
                     temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample ``length`` tokens after each prompt, all prompts at once. (n, length)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    seq = prompts.clone()
    for _ in range(length):
        logits, _ = model(seq[:, -model.config.block_size:])
        probs = torch.softmax(logits[:, -1] / temperature, -1)
        seq = torch.cat([seq, torch.multinomial(probs, 1, generator=generator)], 1)
    return seq[:, prompts.shape[1]:]


@torch.no_grad()
def response_kl(model: nn.Module, reference: nn.Module, prompts: torch.Tensor,
                responses: torch.Tensor) -> float:
    """``KL(pi || pi_ref)`` of whole responses, in nats, estimated along ``responses`` sampled
    from ``model``: the exact next-token KL at every response position, summed over positions
    and averaged over responses (the chain rule of KL)."""
    seq = torch.cat([prompts, responses], 1)[:, :-1]
    P = prompts.shape[1]
    logp = F.log_softmax(model(seq)[0][:, P - 1:], -1)
    logq = F.log_softmax(reference(seq)[0][:, P - 1:], -1)
    return float((logp.exp() * (logp - logq)).sum(-1).sum(1).mean())


def win_rate(scores_a: torch.Tensor, scores_b: torch.Tensor) -> float:
    """How often answer A beats answer B on the same prompt, ties counting half."""
    return float(((scores_a > scores_b).float() + 0.5 * (scores_a == scores_b).float()).mean())
