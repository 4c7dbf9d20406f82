"""Tests of genmech.finetune: LoRA (init, merge, rank check), the DPO loss, the toy assistant."""
import copy
import math

import pytest
import torch
from torch import nn

from genmech import finetune, gpt


def small_gpt(seed=0):
    torch.manual_seed(seed)
    return gpt.GPT(gpt.GPTConfig(vocab_size=12, block_size=8, n_layer=2, n_head=2, n_embd=16))


def test_lora_at_initialisation_leaves_the_outputs_unchanged():
    model = small_gpt()
    x = torch.randint(0, 12, (3, 8))
    before = model(x)[0]
    finetune.add_lora(model, rank=4)
    assert torch.equal(model(x)[0], before)          # B = 0: the update is exactly zero


def test_lora_trains_only_the_adapters_and_counts_them():
    model = small_gpt()
    total = finetune.trainable_parameters(model)
    n = finetune.add_lora(model, rank=2)
    # 2 blocks x (qkv 16->48, proj 16->16, fc 16->64, proj 64->16): r (in + out) each
    expected = 2 * 2 * ((16 + 48) + (16 + 16) + (16 + 64) + (64 + 16))
    assert n == expected and n < total
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.endswith((".A", ".B")) for name in trainable)


def test_merged_adapter_equals_unmerged():
    model = small_gpt()
    finetune.add_lora(model, rank=3)
    with torch.no_grad():                             # give the adapters a non-zero update
        for m in model.modules():
            if isinstance(m, finetune.LoRALinear):
                m.B.normal_(0, 0.5)
    x = torch.randint(0, 12, (4, 8))
    unmerged = model(x)[0]
    assert not torch.allclose(unmerged, small_gpt()(x)[0])   # the adapters change the model
    finetune.merge_lora(model)
    assert not any(isinstance(m, finetune.LoRALinear) for m in model.modules())
    assert torch.allclose(model(x)[0], unmerged, atol=1e-5)


def test_lora_update_has_at_most_rank_r():
    layer = finetune.LoRALinear(nn.Linear(20, 30), rank=3)
    with torch.no_grad():
        layer.B.normal_()
    assert torch.linalg.matrix_rank(layer.delta()).item() == 3


def test_rank_larger_than_the_layer_is_a_readable_error_and_changes_nothing():
    with pytest.raises(ValueError, match="rank"):
        finetune.LoRALinear(nn.Linear(8, 4), rank=5)
    with pytest.raises(ValueError, match="rank"):
        finetune.LoRALinear(nn.Linear(8, 4), rank=0)
    model = small_gpt()
    with pytest.raises(ValueError, match="between 1 and 16"):
        finetune.add_lora(model, rank=17)
    assert not any(isinstance(m, finetune.LoRALinear) for m in model.modules())
    assert finetune.trainable_parameters(model) == finetune.trainable_parameters(small_gpt())


def test_dpo_loss_against_a_hand_computed_value():
    # margin = (-1 - -2) - (-3 - -2.5) = 1 + 0.5 = 1.5; beta = 0.2 -> -log sigmoid(0.3)
    loss = finetune.dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0]),
                             torch.tensor([-2.0]), torch.tensor([-2.5]), beta=0.2)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.3)), rel=1e-6)
    # equal to the reference: log 2, whatever beta
    same = finetune.dpo_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.zeros(3), beta=5.0)
    assert same.item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError):
        finetune.dpo_loss(torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1), beta=0)


def test_dpo_gradient_raises_the_chosen_and_lowers_the_rejected():
    chosen, rejected = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    finetune.dpo_loss(chosen, rejected, torch.zeros(1), torch.zeros(1)).backward()
    assert chosen.grad.item() < 0 < rejected.grad.item()     # descent raises chosen, lowers rejected


def test_response_logprob_matches_a_token_by_token_sum():
    model = small_gpt().eval()
    prompts = finetune.toy_prompts(2, 3, torch.Generator().manual_seed(0))
    responses = finetune.toy_response(prompts, torch.tensor([0, 1]))
    total = finetune.response_logprob(model, prompts, responses)
    seq = torch.cat([prompts, responses], 1)
    by_hand = torch.zeros(2)
    for t in range(prompts.shape[1], seq.shape[1]):
        logp = torch.log_softmax(model(seq[:, :t])[0][:, -1], -1)
        by_hand += logp[torch.arange(2), seq[:, t]]
    assert torch.allclose(total, by_hand, atol=1e-5)


def test_toy_score_and_win_rate():
    prompts = torch.tensor([[1, 2, 3, finetune.QUESTION]] * 3)
    responses = torch.tensor([[3, 2, 1, finetune.STOP], [1, 2, 3, finetune.STOP], [1, 1, 1, finetune.STOP]])
    assert finetune.toy_score(prompts, responses).tolist() == [2, 1, 0]
    assert finetune.win_rate(torch.tensor([2, 1, 0]), torch.tensor([1, 1, 1])) == pytest.approx(0.5)


def test_kl_of_a_model_to_itself_is_zero():
    model = small_gpt().eval()
    prompts = finetune.toy_prompts(5, 3, torch.Generator().manual_seed(0))
    responses = finetune.sample_responses(model, prompts, 4, generator=torch.Generator().manual_seed(0))
    assert finetune.response_kl(model, copy.deepcopy(model), prompts, responses) == pytest.approx(0, abs=1e-6)
    assert finetune.response_kl(model, small_gpt(1).eval(), prompts, responses) > 0
    with pytest.raises(ValueError, match="temperature"):
        finetune.sample_responses(model, prompts, 4, temperature=0)


def test_finetune_lowers_the_training_domain_loss():
    model = small_gpt()
    data = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 30)
    out = finetune.finetune(model, data, 60, lr=1e-2, evaluate={"d": data[:100]}, every=30, target=("d", 1.0))
    assert out["d"][-1] < out["d"][0] and out["reached"] is not None
    frozen = small_gpt()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        finetune.finetune(frozen, data, 1)
