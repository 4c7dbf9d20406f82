"""Attention from scratch (genmech.attention) against PyTorch's fused implementation."""
import pytest
import torch
import torch.nn.functional as F

from genmech.attention import MultiHeadAttention, attend, causal_mask


@pytest.mark.parametrize("causal", [False, True])
def test_attend_matches_pytorch(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))   # (B, h, T, d)
    ours, weights = attend(q, k, v, causal=causal)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 7))


def test_boolean_mask_matches_pytorch():
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(4, 5, 6, generator=g), torch.randn(4, 9, 6, generator=g), torch.randn(4, 9, 3, generator=g)
    mask = torch.rand(5, 9, generator=g) > 0.3
    mask[:, 0] = True                                     # every query may see something
    ours, _ = attend(q, k, v, mask=mask)
    assert torch.allclose(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5)


def test_causal_mask_shape_and_meaning():
    m = causal_mask(4)
    assert m.tolist() == [[True, False, False, False], [True, True, False, False],
                          [True, True, True, False], [True, True, True, True]]
    _, w = attend(torch.randn(4, 2), torch.randn(4, 2), torch.randn(4, 2), causal=True)
    assert torch.all(w[~m] == 0)


def test_future_tokens_cannot_influence_the_past():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, causal=True)
    x = torch.randn(1, 10, 16)
    y = x.clone()
    y[:, 6:] = torch.randn(1, 4, 16)                      # change the future only
    out_x, out_y = mha(x), mha(y)
    assert torch.allclose(out_x[:, :6], out_y[:, :6], atol=1e-6)
    assert not torch.allclose(out_x[:, 6:], out_y[:, 6:])
    # and gradients agree: nothing at t < 6 depends on positions >= 6
    x.requires_grad_(True)
    mha(x)[0, 5].sum().backward()
    assert torch.all(x.grad[0, 6:] == 0) and x.grad[0, :6].abs().sum() > 0


def test_multi_head_matches_pytorch_module():
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4, causal=True)
    theirs = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.qkv.weight)
        theirs.in_proj_bias.copy_(ours.qkv.bias)
        theirs.out_proj.weight.copy_(ours.proj.weight)
        theirs.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(3, 7, 16)
    expected, _ = theirs(x, x, x, attn_mask=~causal_mask(7), need_weights=False)
    assert torch.allclose(ours(x), expected, atol=1e-5)
    with torch.no_grad():
        ours(x)
    assert ours.weights.shape == (3, 4, 7, 7)


def test_without_positions_attention_is_permutation_equivariant():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, causal=False)
    x = torch.randn(1, 6, 8)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    assert torch.allclose(mha(x)[:, perm], mha(x[:, perm]), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="same width"):
        attend(torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="positive int"):
        causal_mask(0)
