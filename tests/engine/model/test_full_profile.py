"""The full profile's loading code (local CLIP checkpoint + local LLaMA folder), exercised with tiny models of
the same classes saved to disk, so the code that would load ViT-L/14 and LLaMA-7B is the code under test."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.diagnoser import Diagnoser
from engine.errors import ModelLoadError
from engine.model.checkpoint import save_checkpoint
from engine.model.config import PreprocessConfig
from engine.model.head_card import HeadCard
from engine.model.llm import load_decoder
from engine.model.local_weights import check_clip_weights, check_llm_folder
from engine.model.pneumollm import build_model, frozen_fingerprints
from engine.model.registry import load_profile
from engine.model.runtime import Runtime
from engine.model.vision import build_clip_visual
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like, make_dicom

TINY_CLIP = {"embed_dim": 32, "vision_cfg": {"image_size": 224, "layers": 8, "width": 64, "head_width": 16,
                                             "patch_size": 32},
             "text_cfg": {"context_length": 16, "vocab_size": 100, "width": 32, "heads": 2, "layers": 1}}


def save_tiny_clip(folder: Path, seed: int = 0, suffix: str = ".safetensors") -> tuple[Path, dict]:
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "PneumoTiny-ViT.json"
    config_file.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config_file)
    torch.manual_seed(seed)
    model = open_clip.create_model("PneumoTiny-ViT", pretrained=None)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = folder / f"tiny_clip{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path, state


def save_tiny_llama(folder: Path, seed: int = 0) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=32, max_position_embeddings=64)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("full")
    clip, state = save_tiny_clip(root / "clip")
    return clip, save_tiny_llama(root / "llama"), state


def full_config(clip: Path, llama: Path):
    profile = load_profile("full", vision_weights=str(clip), llm_path=str(llama))
    return replace(profile.model, clip_model_name="PneumoTiny-ViT", source_width=64, width_without_llm=64)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_clip_checkpoint_loads_through_open_clip(tmp_path: Path, suffix: str) -> None:
    clip, state = save_tiny_clip(tmp_path, suffix=suffix)
    visual = build_clip_visual(full_config(clip, tmp_path))
    for name, value in visual.state_dict().items():
        torch.testing.assert_close(value, state[f"visual.{name}"])


def test_llama_folder_loads_through_transformers(paths: tuple[Path, Path, dict]) -> None:
    from transformers import LlamaForCausalLM

    _, llama, _ = paths
    decoder = load_decoder("llama_local", str(llama))
    reference = LlamaForCausalLM.from_pretrained(llama).model
    for name, value in decoder.state_dict().items():
        torch.testing.assert_close(value, reference.state_dict()[name])
    assert decoder.embed_tokens is None and decoder.config._attn_implementation == "eager"


def test_full_model_forward_from_local_files(paths: tuple[Path, Path, dict]) -> None:
    clip, llama, _ = paths
    model = build_model(full_config(clip, llama)).eval()
    assert model.d == 2  # [CLS] after blocks 4 and 8 of an 8-block ViT
    with torch.no_grad():
        out = model(torch.randn(2, 3, 224, 224), output_attentions=True)
    assert out.emitter_attention.shape == (2, 2, 4, 4, 2)


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: None, "No CLIP ViT-L/14 checkpoint chosen"),
    (lambda p: p / "absent.pt", "not found"),
    (lambda p: (p / "weights.txt").write_text("x") and p / "weights.txt", "Choose an open_clip"),
])
def test_clip_path_checks(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        check_clip_weights(make(tmp_path))


def test_clip_checkpoint_of_another_architecture_is_refused(tmp_path: Path, paths: tuple[Path, Path, dict]) -> None:
    _, llama, _ = paths
    wrong, _ = save_tiny_clip(tmp_path / "other")
    config = replace(full_config(wrong, llama), clip_model_name="ViT-B-32")
    with pytest.raises(ModelLoadError, match="does not fit ViT-B-32"):
        build_clip_visual(config)


def test_llama_folder_checks(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="No LLaMA folder"):
        check_llm_folder(None)
    with pytest.raises(ModelLoadError, match="not a Hugging Face model folder"):
        check_llm_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(ModelLoadError, match="gpt2 model, not a LLaMA"):
        check_llm_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelLoadError, match="no weight files"):
        check_llm_folder(tmp_path)


def test_full_head_refused_on_other_llm_weights(tmp_path: Path, paths: tuple[Path, Path, dict]) -> None:
    clip, llama, _ = paths
    config = full_config(clip, llama)
    model = build_model(config)
    card = HeadCard(profile="full", model=replace(config, vision_weights=None, llm_path=None),
                    preprocess=PreprocessConfig(), labels=("normal", "abnormal"), positive_index=1, threshold=0.5,
                    temperature=1.0, fingerprints=frozen_fingerprints(model))
    head = save_checkpoint(tmp_path / "head", model.trained_state_dict(), card)
    segmenter = LungSegmenter(weights=None)
    image = make_dicom(tmp_path / "a.dcm", chest_like(256, 256))
    diagnoser = Diagnoser(head, vision_weights=str(clip), llm_path=str(llama), segmenter=segmenter)
    assert diagnoser.predict(image).emitter_attention.shape == (2, 4, 4, 2)
    other = save_tiny_llama(tmp_path / "other-llama", seed=1)
    with pytest.raises(ModelLoadError, match="different llm backbone"):
        Diagnoser(head, vision_weights=str(clip), llm_path=str(other), segmenter=segmenter)


def test_gpu_out_of_memory_falls_back_to_cpu(tmp_path: Path, paths: tuple[Path, Path, dict],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.head_factory import make_tiny_head

    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=LungSegmenter(weights=None))
    original = Diagnoser._forward_on
    calls = []

    def flaky(self: Diagnoser, runtime: Runtime, batch: torch.Tensor, wholes: torch.Tensor | None):
        calls.append(runtime.device.type)
        if runtime.device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, runtime, batch, wholes)

    monkeypatch.setattr(Diagnoser, "_forward_on", flaky)
    diagnoser.runtime = Runtime(torch.device("cuda"), torch.bfloat16)  # pretend a GPU was chosen
    result = diagnoser.predict(make_dicom(tmp_path / "a.dcm", chest_like(256, 256)))
    assert calls == ["cuda", "cpu"]
    assert any("ran out of memory" in w.message for w in result.warnings)
    assert result.device == "CPU (fp32)" and np.isfinite(result.probability)
