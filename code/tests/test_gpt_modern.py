"""The options of section *Inside a modern transformer*: positions (learned, sinusoidal,
rotary, none), tied weights, the key-value cache, and the cost measurements."""
import math

import pytest
import torch

from genmech import attention, gpt, gpt_demos, sampling
from genmech.nets import count_parameters


def tiny(**kw):
    torch.manual_seed(0)
    return gpt.GPT(gpt.GPTConfig(**{**dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16), **kw}))


def test_default_model_is_unchanged():
    model = tiny()
    assert model.position == "learned" and model.pos_emb is not None
    assert not any("pos_table" in k for k in model.state_dict())
    assert model.head.weight is not model.tok_emb.weight
    assert all(not b.attn.rotary for b in model.blocks)
    assert tiny(positional=False).position == "none"


def test_sinusoidal_table_formula_and_shift_is_a_rotation():
    P = gpt.sinusoidal_positions(50, 8)
    assert P.shape == (50, 8)
    assert P[3, 2].item() == pytest.approx(math.sin(3 * 10000 ** (-2 / 8)), abs=1e-6)
    assert P[3, 3].item() == pytest.approx(math.cos(3 * 10000 ** (-2 / 8)), abs=1e-6)
    # p_t . p_{t+k} = sum_i cos(omega_i k): the same for every t
    dots = [(P[t] * P[t + 5]).sum().item() for t in (0, 10, 40)]
    assert max(dots) - min(dots) < 1e-5
    with pytest.raises(ValueError, match="even"):
        gpt.sinusoidal_positions(10, 7)


def test_rotary_keeps_lengths_and_scores_depend_on_offset_only():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, 8)
    r = attention.rotary(x)
    assert r.shape == x.shape
    assert torch.allclose(r.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    assert torch.allclose(r[..., 0, :], x[..., 0, :])                 # position 0 is not turned
    q, k = torch.randn(1, 8), torch.randn(1, 8)
    s = lambda m, n: (attention.rotary(q, m) * attention.rotary(k, n)).sum().item()
    assert s(9, 4) == pytest.approx(s(29, 24), abs=1e-4)
    assert s(9, 4) != pytest.approx(s(9, 6), abs=1e-3)
    # a longer sequence rotated at once equals its pieces rotated with their start
    assert torch.allclose(attention.rotary(x)[..., 4:, :], attention.rotary(x[..., 4:, :], start=4), atol=1e-6)
    with pytest.raises(ValueError, match="even"):
        attention.rotary(torch.randn(3, 5))
    with pytest.raises(ValueError, match="even head width"):
        attention.MultiHeadAttention(6, 2, rotary=True)


@pytest.mark.parametrize("position", gpt.POSITIONS)
def test_each_position_scheme_runs_is_causal_and_counts_parameters(position):
    model = tiny(position=position)
    x = torch.randint(0, 11, (2, 12))
    logits, loss = model(x, x)
    assert logits.shape == (2, 12, 11) and torch.isfinite(loss)
    y = x.clone()
    y[:, 8:] = (y[:, 8:] + 1) % 11
    assert torch.allclose(model(x)[0][:, :8], model(y)[0][:, :8], atol=1e-6)
    extra = 16 * 16 if position == "learned" else 0
    assert count_parameters(model) == count_parameters(tiny(position="none")) + extra


def test_positions_break_permutation_symmetry_only_when_present():
    # with one block and no positions, the last position's output is a function of the set
    # of tokens it sees: shuffling the earlier ones does not change it (with two blocks the
    # earlier positions' own prefixes change, and so does their output)
    x = torch.tensor([[1, 2, 3, 4, 5, 6, 7]])
    shuffled = torch.tensor([[4, 6, 2, 1, 5, 3, 7]])
    for position in gpt.POSITIONS:
        model = tiny(position=position, n_layer=1)
        with torch.no_grad():      # token vectors as large as the sinusoids, so both count
            model.tok_emb.weight.normal_()
        a, b = model(x)[0][0, -1], model(shuffled)[0][0, -1]
        same = ((a - b).abs().max() / a.abs().max()).item() < 5e-7
        assert same == (position == "none"), position


def test_config_errors():
    with pytest.raises(ValueError, match="position must be one of"):
        gpt.GPTConfig(position="absolute")
    with pytest.raises(ValueError, match="head width"):
        gpt.GPTConfig(n_embd=6, n_head=2, position="rotary")
    with pytest.raises(ValueError, match="n_embd must be even"):
        gpt.GPTConfig(n_embd=9, n_head=3, position="sinusoidal")


def test_tied_weights_share_one_matrix_and_train():
    tied, untied = tiny(tie_weights=True), tiny()
    assert tied.head.weight is tied.tok_emb.weight
    assert count_parameters(untied) - count_parameters(tied) == 11 * 16
    x = torch.randint(0, 11, (4, 16))
    _, loss = tied(x, x)
    loss.backward()
    assert tied.tok_emb.weight.grad is not None and tied.tok_emb.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("position", gpt.POSITIONS)
def test_cache_gives_the_logits_of_the_full_forward(position):
    model = tiny(position=position).eval()
    x = torch.randint(0, 11, (2, 14))
    with torch.no_grad():
        full = model(x)[0]
        cache = model.new_cache()
        first = model(x[:, :5], cache=cache)[0]                         # a prompt of 5
        steps = [model(x[:, t:t + 1], cache=cache)[0] for t in range(5, 14)]
    assert len(cache[0]) == 14 and cache[0].k.shape == (2, 2, 14, 8)
    assert torch.allclose(torch.cat([first] + steps, dim=1), full, atol=1e-5)


def test_cache_errors():
    model = tiny()
    cache = model.new_cache()
    model(torch.zeros(1, 10, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="cached"):
        model(torch.zeros(1, 7, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="new_cache"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache[:1])


@pytest.mark.parametrize("position", ["learned", "rotary", "sinusoidal"])
def test_generate_cached_gives_the_same_tokens(position):
    model = tiny(position=position)
    prompt = torch.tensor([1, 2, 3])
    for kw in (dict(temperature=0.0), dict(temperature=1.5, seed=3), dict(temperature=1.0, top_k=4, seed=1)):
        assert torch.equal(sampling.generate(model, prompt, 13, **kw), gpt.generate_cached(model, prompt, 13, **kw))
    assert torch.equal(gpt.generate_cached(model, prompt, 0), prompt)
    with pytest.raises(ValueError, match="does not slide"):
        gpt.generate_cached(model, prompt, 14)
    with pytest.raises(ValueError, match="non-negative"):
        gpt.generate_cached(model, prompt, -1)
    with pytest.raises(ValueError, match="1-D"):
        gpt.generate_cached(model, prompt[None], 2)


def test_block_flops_follow_the_formulas():
    flops = gpt_demos.block_flops([8, 16, 32], d_model=16, n_head=2)
    assert flops["attention"] == [4 * T * T * 16 for T in (8, 16, 32)]
    assert flops["feed-forward"] == [16 * T * 16 * 16 for T in (8, 16, 32)]
    assert gpt_demos.loglog_slope([8, 16, 32], flops["attention"]) == pytest.approx(2.0)


def test_timings_are_positive_and_the_cache_wins_on_long_texts():
    times = gpt_demos.attention_seconds([16, 32], d_model=16, n_head=2, repeats=1)
    assert all(t > 0 for v in times.values() for t in v)
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=200, n_layer=2, n_head=2, n_embd=16))
    gen = gpt_demos.generation_seconds(model, [199], repeats=2)
    assert gen["with cache"][0] < gen["without cache"][0]


def test_train_variant_learns_and_refuses_bad_steps():
    vocab, data = gpt.prepare_corpus()
    config = gpt.GPTConfig(vocab_size=len(vocab), n_layer=1, n_embd=32, position="rotary")
    model, loss = gpt_demos.train_variant(config, data, steps=60, valid_tokens=2048)
    assert loss < math.log(len(vocab)) - 1.0          # well below a uniform guess
    with pytest.raises(ValueError, match="steps"):
        gpt_demos.train_variant(config, data, steps=0)


def test_non_embedding_parameters_skip_both_ends_and_positions():
    for kw in (dict(), dict(tie_weights=True), dict(position="rotary")):
        model = tiny(**kw)
        ends = 11 * 16 + (0 if model.head.weight is model.tok_emb.weight else 11 * 16) \
            + (16 * 16 if model.pos_emb is not None else 0)
        assert gpt_demos.non_embedding_parameters(model) == count_parameters(model) - ends
    # the same blocks whatever the position scheme
    assert len({gpt_demos.non_embedding_parameters(tiny(position=p)) for p in gpt.POSITIONS}) == 1


def test_scaling_points_grow_and_learn():
    vocab, data = gpt.prepare_corpus()
    points = gpt_demos.scaling_points(data, len(vocab), widths=(8, 32), steps=40)
    assert points[0]["params"] < points[1]["params"] < points[1]["total"]
    assert all(p["loss"] < math.log(len(vocab)) for p in points)


def test_a_block_subclass_written_before_the_cache_still_runs():
    """transformers/05's exercise subclasses Block with ``forward(self, x)``; the model must
    call it without the cache argument when it generates without a cache."""
    import torch

    from genmech import gpt

    class NoResidualBlock(gpt.Block):
        def forward(self, x):
            x = self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_embd=16, n_head=2))
    before = model(torch.zeros(1, 8, dtype=torch.long))[0]
    model.blocks[0].__class__ = NoResidualBlock
    after = model(torch.zeros(1, 8, dtype=torch.long))[0]
    assert after.shape == before.shape and not torch.allclose(after, before)
