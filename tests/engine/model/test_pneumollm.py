"""The paper's claims, made checkable on tiny backbones of the real classes."""

from __future__ import annotations

import pytest
import torch

from engine.model.backbones import count_parameters
from engine.model.llm import load_decoder
from engine.model.pneumollm import emitter_allowed
from engine.model.vision import build_clip_visual
from tests.engine.model_fixtures import TINY, TINY_DIMS, images, tiny_model


def randomise_adapters(model: torch.nn.Module) -> None:
    """Adapters start as identity; give them weights so tests see them act."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "adapters" in name:
                parameter.normal_(0, 0.05)


def test_emitter_mask_layout() -> None:
    allowed = emitter_allowed(3, 2)
    expected = torch.tensor([[1, 1, 1, 0, 0]] * 5, dtype=torch.bool)
    assert torch.equal(allowed, expected)


def test_source_outputs_ignore_diagnosis_tokens() -> None:
    model = tiny_model().eval()
    randomise_adapters(model)
    embeds = torch.randn(2, model.d + model.m, model.width)
    with torch.no_grad():
        full, _ = model._run_decoder(embeds, output_attentions=False)
        sources_only, _ = model._run_decoder(embeds[:, : model.d], output_attentions=False)
    torch.testing.assert_close(full[:, : model.d], sources_only, rtol=1e-5, atol=1e-5)


def test_diagnosis_tokens_do_not_see_each_other() -> None:
    model = tiny_model().eval()
    randomise_adapters(model)
    embeds = torch.randn(1, model.d + model.m, model.width)
    changed = embeds.clone()
    changed[:, model.d + 1] += 3.0  # perturb diagnosis token 1 only
    with torch.no_grad():
        before, _ = model._run_decoder(embeds, output_attentions=False)
        after, _ = model._run_decoder(changed, output_attentions=False)
    others = [model.d + i for i in range(model.m) if i != 1]
    torch.testing.assert_close(after[:, others], before[:, others], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(after[:, : model.d], before[:, : model.d], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(after[:, model.d + 1], before[:, model.d + 1])  # the test can fail


def test_without_emitter_mask_diagnosis_tokens_do_interact() -> None:
    model = tiny_model(use_emitter_mask=False).eval()
    embeds = torch.randn(1, model.d + model.m, model.width)
    changed = embeds.clone()
    changed[:, model.d] += 3.0
    with torch.no_grad():
        before, _ = model._run_decoder(embeds, output_attentions=False)
        after, _ = model._run_decoder(changed, output_attentions=False)
    assert not torch.allclose(after[:, model.d + 1], before[:, model.d + 1])


def test_zero_adapters_leave_backbones_untouched() -> None:
    model = tiny_model().eval()
    x = images(2)
    reference_visual = build_clip_visual(TINY).eval()  # same seed -> same weights, no adapters
    take = model.sources.take
    with torch.no_grad():
        expected = reference_visual.forward_intermediates(x, indices=take, intermediates_only=True,
                                                          output_fmt="NLC", output_extra_tokens=True)
        expected_cls = torch.cat(expected["image_intermediates_prefix"], dim=1)
        torch.testing.assert_close(model.sources(x), expected_cls)
        reference_llm = load_decoder("tiny_llama", tiny=TINY_DIMS).eval()
        embeds = torch.randn(2, model.d + model.m, model.width)
        ours, _ = model._run_decoder(embeds, output_attentions=False)
        mask = torch.zeros(model.d + model.m, model.d + model.m).masked_fill(
            ~emitter_allowed(model.d, model.m), torch.finfo(torch.float32).min).expand(2, 1, -1, -1)
        theirs = reference_llm(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        torch.testing.assert_close(ours, theirs)
    randomise_adapters(model)
    with torch.no_grad():
        assert not torch.allclose(model.sources(x), expected_cls)


def test_one_step_changes_only_trainable_parameters_and_trains_the_engine() -> None:
    model = tiny_model().train()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any(name.startswith("token_engine.") for name in trainable)
    assert not any(name.startswith(("decoder.", "sources.backbone.")) for name in trainable)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    output = model(images(4))
    loss = torch.nn.functional.cross_entropy(output.logits, torch.tensor([0, 1, 0, 1]))
    loss.backward()
    engine_grads = [p.grad for p in model.token_engine.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in engine_grads)
    optimizer.step()
    for name, p in model.named_parameters():
        changed = not torch.equal(p.detach(), before[name])
        if name in trainable:
            # Zero-initialised up-projections move; everything trained moves after one AdamW step.
            assert changed, f"{name} did not change"
        else:
            assert not changed, f"frozen {name} changed"


def test_batch_of_eight_equals_eight_batches_of_one() -> None:
    model = tiny_model().eval()
    randomise_adapters(model)
    x = images(8)
    with torch.no_grad():
        together = model(x, output_attentions=True)
        apart = [model(x[i : i + 1], output_attentions=True) for i in range(8)]
    torch.testing.assert_close(together.logits, torch.cat([o.logits for o in apart]), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(together.emitter_attention, torch.cat([o.emitter_attention for o in apart]),
                               rtol=1e-4, atol=1e-5)


def test_attention_rows_sum_to_one_over_source_keys() -> None:
    model = tiny_model().eval()
    with torch.no_grad():
        out = model(images(3), output_attentions=True)
    layers = TINY_DIMS["llm_layers"]
    assert out.emitter_attention.shape == (3, layers, TINY_DIMS["llm_heads"], model.m, model.d)
    torch.testing.assert_close(out.emitter_attention.sum(-1), torch.ones(3, layers, 4, model.m))
    assert out.token_mixing.shape == (3, model.d, model.m)
    torch.testing.assert_close(out.token_mixing.sum(1), torch.ones(3, model.m))


def test_sdpa_fast_path_agrees_with_eager() -> None:
    model = tiny_model().eval()
    randomise_adapters(model)
    embeds = torch.randn(2, model.d + model.m, model.width)
    with torch.no_grad():
        eager, _ = model._run_decoder(embeds, output_attentions=False)
        model.decoder.config._attn_implementation = "sdpa"
        fast, _ = model._run_decoder(embeds, output_attentions=False)
    torch.testing.assert_close(eager, fast, rtol=1e-4, atol=1e-5)


def test_mask_is_a_buffer_that_moves_with_the_model() -> None:
    model = tiny_model()
    assert any(buffer is model.emitter_allowed for buffer in model.buffers())
    model.to(torch.float64)
    assert model.emitter_allowed.dtype == torch.bool


@pytest.mark.parametrize("change", [{"use_llm": False}, {"use_token_engine": False}, {"use_emitter_mask": False},
                                    {"use_adapters": False}])
def test_ablations_run_and_shrink(change: dict[str, bool]) -> None:
    full = count_parameters(tiny_model())[1]
    model = tiny_model(**change)
    out = model(images(2), output_attentions=True)
    assert out.logits.shape == (2, 2) and torch.isfinite(out.logits).all()
    if change != {"use_emitter_mask": False}:
        assert count_parameters(model)[1] < full
    if "use_token_engine" in change:
        assert out.token_mixing is None and out.emitter_attention is None
