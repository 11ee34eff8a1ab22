"""--ds.packing_samples on CPU: flash_attention_2 requests resolve to per-sequence SDPA
(laser_plugin.compat.varlen_attention), with the same numbers as the unpacked, padded batch."""
from __future__ import annotations

import pytest
import torch


def _batch(tokenizer, texts):
    enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="right")
    return enc.input_ids, enc.attention_mask


TEXTS = ["What is 12 plus 7? It is 19.", "Is the sky blue?", "Write a short happy sentence about the sea, please."]


def test_flash_request_loads_on_cpu_and_matches_padded_sdpa(tiny_policy, tiny_tokenizer, cpu_compat):
    from transformers import AutoModelForCausalLM

    from laser_plugin.compat.varlen_attention import NAME
    from openrlhf.models.ring_attn_utils import unpad_and_slice_tensor

    packed_model = AutoModelForCausalLM.from_pretrained(tiny_policy, attn_implementation="flash_attention_2",
                                                        torch_dtype=torch.float32)
    assert packed_model.config._attn_implementation == NAME
    padded_model = AutoModelForCausalLM.from_pretrained(tiny_policy, attn_implementation="sdpa", torch_dtype=torch.float32)
    ids, mask = _batch(tiny_tokenizer, TEXTS)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        reference = padded_model(ids, attention_mask=mask, position_ids=position_ids).logits  # [B, T, V]
        # OpenRLHF's own packing: [1, total_tokens], position ids restarting per sequence, no mask
        packed_ids, packed_pos, _, _, _ = unpad_and_slice_tensor(ids, mask, None)
        packed = packed_model(packed_ids, attention_mask=None, position_ids=packed_pos).logits[0]
        # the same model on the padded batch with its 2-D mask (flash-attn's unpadding path)
        unpacked = packed_model(ids, attention_mask=mask, position_ids=position_ids).logits
    torch.testing.assert_close(packed, reference[mask.bool()], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(unpacked[mask.bool()], reference[mask.bool()], rtol=1e-4, atol=1e-4)
    # and attention really stays inside each sequence: one long causal row would differ
    with torch.no_grad():
        one_row = padded_model(packed_ids, position_ids=packed_pos).logits[0]
    assert not torch.allclose(one_row, packed, atol=1e-3)


def test_openrlhf_actor_log_probs_packed_equal_unpacked(tiny_policy, tiny_tokenizer, cpu_compat):
    """OpenRLHF's Actor exactly as --ds.packing_samples builds it (flash_attention_2 + packing)."""
    from openrlhf.models import Actor

    packed = Actor(str(tiny_policy), attn_implementation="flash_attention_2", param_dtype="bf16", packing_samples=True)
    plain = Actor(str(tiny_policy), attn_implementation="sdpa", param_dtype="bf16", packing_samples=False)
    plain.model.load_state_dict(packed.model.state_dict())
    ids, mask = _batch(tiny_tokenizer, TEXTS)
    action_mask = mask[:, 1:].clone()
    action_mask[:, :3] = 0
    with torch.no_grad():
        lp_packed = packed(ids, action_mask, attention_mask=mask).float()
        lp_plain = plain(ids, action_mask, attention_mask=mask).float()
    valid = action_mask.bool()[:, -lp_plain.shape[1]:]
    torch.testing.assert_close(lp_packed[valid], lp_plain[valid], rtol=0.02, atol=0.02)


def test_sequence_spans_follow_mask_then_position_restarts():
    from laser_plugin.compat.varlen_attention import sequence_spans

    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    assert [s.tolist() for s in sequence_spans(3, mask, None, 1)] == [[1, 2]]
    pos = torch.tensor([[0, 1, 2, 0, 1, 0]])
    assert [s.tolist() for s in sequence_spans(6, None, pos, 0)] == [[0, 1, 2], [3, 4], [5]]
    assert [s.tolist() for s in sequence_spans(4, None, None, 0)] == [[0, 1, 2, 3]]


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_other_implementations_are_left_alone(tiny_policy, cpu_compat, impl):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_policy, attn_implementation=impl)
    assert model.config._attn_implementation == impl
