"""PneumoLLM, all of it in this file: encoder -> contextual multi-token engine -> adapter neck ->
frozen LLaMA-family decoder behind the information-emitter mask -> classification head.

Shapes: B batch, d source tokens, m diagnosis tokens, n source width, W LLM width, L LLM layers, H heads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn

from engine.model.backbones import efficientnet_lite0, freeze
from engine.model.config import ModelConfig
from engine.model.vision import Adapter, EfficientNetSources, build_sources


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, classes)
    embedding: torch.Tensor  # (B, W) pooled vector before the head; the case's point on the t-SNE map
    token_mixing: torch.Tensor | None  # (B, d, m) M_c: softmax over the d source tokens
    emitter_attention: torch.Tensor | None  # (B, L, H, m, d): diagnosis-token rows over source keys
    grade_logits: torch.Tensor | None = None  # (B, K-1) cumulative logits of the ordinal head: P(grade > k)


class OrdinalHead(nn.Module):
    """Ordered grades 0..K-1 (e.g. the ILO major categories) as K-1 cumulative binary tasks "grade > k" that share
    one weight vector and differ only in their bias (CORAL, Cao et al. 2020): the cumulative probabilities can
    never cross, so a grade distribution always follows from them."""

    def __init__(self, width: int, grades: int) -> None:
        super().__init__()
        self.score = nn.Linear(width, 1, bias=False)
        self.bias = nn.Parameter(torch.linspace(1.0, -1.0, grades - 1))  # ordered from the start

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.score(pooled) + self.bias  # (B, K-1)


def grade_distribution(cumulative_logits: torch.Tensor) -> torch.Tensor:
    """(B, K-1) logits of P(grade > k) -> (B, K) P(grade = k); monotone by construction, clipped for rounding."""
    above = torch.sigmoid(cumulative_logits)
    above = torch.cummin(above, dim=-1).values  # guard against tiny crossings from bias updates
    ones, zeros = torch.ones_like(above[..., :1]), torch.zeros_like(above[..., :1])
    bounds = torch.cat([ones, above, zeros], dim=-1)  # P(grade > -1) = 1 ... P(grade > K-1) = 0
    return (bounds[..., :-1] - bounds[..., 1:]).clamp_min(0.0)


def emitter_allowed(d: int, m: int) -> torch.Tensor:
    """(d+m, d+m) bool, True where query i may attend to key j (the paper's information emitter).

    Source tokens attend to all source tokens (both directions); each diagnosis token attends to the
    source tokens only; no token attends to a diagnosis token (not even the token itself).
    """
    allowed = torch.zeros(d + m, d + m, dtype=torch.bool)
    allowed[:, :d] = True
    return allowed


class ContextualMultiTokenEngine(nn.Module):
    """h^1: Linear(n -> n/12) - ReLU - Linear(n/12 -> m); softmax over the d source tokens gives M_c."""

    def __init__(self, width: int, num_tokens: int, reduction: int = 12) -> None:
        super().__init__()
        hidden = max(1, width // reduction)
        self.score = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, num_tokens))

    def forward(self, sources: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mixing = torch.softmax(self.score(sources), dim=1)  # (B, d, m): each column sums to 1 over d
        diagnosis = mixing.transpose(1, 2) @ sources  # (B, m, n) = M_c^T X
        return diagnosis, mixing


class PneumoLLM(nn.Module):
    def __init__(self, config: ModelConfig, sources: nn.Module, decoder: nn.Module | None) -> None:
        super().__init__()
        self.config = config
        self.sources = sources  # frozen encoder + its adapters (+ projections in the embedded profile)
        n, d = sources.width, sources.num_tokens
        self.d = d
        self.m = config.num_diagnosis_tokens if config.use_token_engine else 0
        self.token_engine = (ContextualMultiTokenEngine(n, self.m, config.token_engine_reduction)
                             if config.use_token_engine else None)
        self.decoder = freeze(decoder) if (decoder is not None and config.use_llm) else None
        width = self.decoder.config.hidden_size if self.decoder is not None else config.width_without_llm
        self.width = width
        self.neck = nn.Sequential(nn.Linear(n, config.neck_hidden), nn.SiLU(), nn.Linear(config.neck_hidden, width))
        self.llm_adapters: nn.ModuleList | None = None
        if self.decoder is not None and config.use_adapters:
            self.llm_adapters = nn.ModuleList(Adapter(width, config.adapter_dim) for _ in self.decoder.layers)
            for layer, adapter in zip(self.decoder.layers, self.llm_adapters, strict=True):
                layer.register_forward_pre_hook(_hidden_state_adapter(adapter), with_kwargs=True)
        # Without the LLM its final RMSNorm goes too; a trained LayerNorm takes its place before pooling.
        self.no_llm_norm = nn.LayerNorm(width) if self.decoder is None else None
        self.head = nn.Linear(width, config.num_classes)
        # Beside the binary head: the ordinal grade (trained only on ordered data, e.g. ILO categories 0-3).
        self.grade_head = OrdinalHead(width, config.ordinal_grades) if config.ordinal_grades >= 2 else None
        self.register_buffer("emitter_allowed", emitter_allowed(d, self.m), persistent=False)

    def train(self, mode: bool = True) -> PneumoLLM:
        super().train(mode)
        if self.decoder is not None:
            self.decoder.eval()  # frozen: no dropout, whatever the rest does
        return self

    def forward(self, images: torch.Tensor, output_attentions: bool = False) -> ModelOutput:
        """images (B, 3, S, S), normalised for the encoder."""
        hidden, mixing, attention = self.token_states(self.sources(images), output_attentions)
        pooled = hidden.mean(dim=1)  # (B, W): mean over all d+m tokens
        grades = self.grade_head(pooled) if self.grade_head is not None else None
        return ModelOutput(self.head(pooled), pooled, mixing, attention, grades)

    def token_states(self, sources: torch.Tensor, output_attentions: bool = False
                     ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Source tokens (B, d, n) -> (every token's output (B, d+m, W), the engine's mixing, the emitter's
        attention): token engine, neck, then the decoder behind the emitter mask (or the no-LLM norm). The one
        path every head on this model reads from."""
        mixing = None
        tokens = sources
        if self.token_engine is not None:
            diagnosis, mixing = self.token_engine(sources)  # (B, m, n), (B, d, m)
            tokens = torch.cat([sources, diagnosis], dim=1)  # (B, d+m, n)
        embeds = self.neck(tokens)  # (B, d+m, W)
        attention = None
        if self.decoder is not None:
            hidden, attention = self._run_decoder(embeds, output_attentions)
        else:
            hidden = self.no_llm_norm(embeds)
        return hidden, mixing, attention

    def _run_decoder(self, embeds: torch.Tensor, output_attentions: bool
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length = embeds.shape[:2]
        mask = None
        if self.config.use_emitter_mask:
            dtype = next(self.decoder.parameters()).dtype
            blocked = torch.finfo(dtype).min
            additive = torch.zeros(length, length, dtype=dtype, device=embeds.device)
            additive = additive.masked_fill(~self.emitter_allowed[:length, :length], blocked)
            mask = additive.expand(batch, 1, length, length)  # (B, 1, q, k): replaces the causal mask
        # else: the decoder's own causal mask (the "without emitter" ablation)
        out = self.decoder(inputs_embeds=embeds, attention_mask=mask, output_attentions=output_attentions,
                           use_cache=False)
        attention = None
        if output_attentions and out.attentions is not None and self.m:
            stacked = torch.stack(out.attentions, dim=1)  # (B, L, H, q, k)
            attention = stacked[:, :, :, self.d :, : self.d]  # (B, L, H, m, d)
        return out.last_hidden_state, attention

    def domain_features(self, images: torch.Tensor) -> torch.Tensor:
        """How a radiograph looks to the encoder, for the out-of-domain check: the pooled feature (EfficientNet)
        or [CLS] token (ViT) of every tapped depth, each unit-normalised, concatenated -> (B, F) unit vectors.

        Computed on the *whole* radiograph (``PreparedCase.whole``): an adult's film differs from a child's in
        far more than the lungs, while the trained embedding keeps only what the classes need.
        """
        sources = self.sources
        if isinstance(sources, EfficientNetSources):
            pooled = sources.pooled_features(images)
            parts = [pooled[tap] for tap in sources.taps]
        else:
            parts = list(sources(images).unbind(dim=1))  # (B, n) per tapped block
        return _unit_parts(parts)

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what training changes: adapters, token engine, neck, projections, head."""
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}


def _hidden_state_adapter(adapter: Adapter):
    """Run the adapter on a decoder layer's input hidden states, before its attention."""

    def hook(_module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if args:
            return (adapter(args[0]), *args[1:]), kwargs
        kwargs = dict(kwargs)
        kwargs["hidden_states"] = adapter(kwargs["hidden_states"])
        return args, kwargs

    return hook


class BaselineCNN(nn.Module):
    """The plain baseline: the same pretrained EfficientNet-Lite0, fully fine-tuned, with a linear head."""

    def __init__(self, config: ModelConfig, pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        self.backbone = efficientnet_lite0(pretrained=pretrained)
        self.backbone._fc = nn.Identity()
        self.backbone._dropout = nn.Identity()
        self.width = self.backbone._bn1.num_features
        self.head = nn.Linear(self.width, config.num_classes)

    def forward(self, images: torch.Tensor, output_attentions: bool = False) -> ModelOutput:
        pooled = self.backbone(images)  # (B, 1280) after global average pooling
        return ModelOutput(self.head(pooled), pooled, None, None)

    def domain_features(self, images: torch.Tensor) -> torch.Tensor:
        """The out-of-domain check's features (see ``PneumoLLM.domain_features``): the pooled backbone output."""
        return _unit_parts([self.backbone(images)])

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach() for k, v in self.state_dict().items()}


def _unit_parts(parts: list[torch.Tensor]) -> torch.Tensor:
    """Each part unit-normalised (so no depth dominates by its width), concatenated, scaled to unit length."""
    units = [torch.nn.functional.normalize(part.float(), dim=-1) for part in parts]
    return torch.cat(units, dim=-1) / len(units) ** 0.5


def build_model(config: ModelConfig, *, pretrained: bool = True, baseline: bool = False,
                progress=None) -> nn.Module:
    """Assemble a model from its config (weights for the frozen parts come from packages or local paths)."""
    if baseline:
        return BaselineCNN(config, pretrained=pretrained)
    from engine.model.llm import load_decoder

    sources = build_sources(config, pretrained=pretrained)
    decoder = None
    if config.use_llm:
        decoder = load_decoder(config.llm, config.llm_path, config.tiny_test_dims, progress=progress)
    return PneumoLLM(config, sources, decoder)


def backbone_fingerprint(module: nn.Module) -> str:
    """A cheap identity for frozen weights: names, shapes and a sample of values of every parameter.

    A head trained on one backbone is refused on another (``engine.checkpoint``); hashing every byte of a
    7B model would take minutes, a sample tells different weights apart just as surely.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        flat = tensor.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // 64)][:64].float().cpu()
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def frozen_fingerprints(model: nn.Module) -> dict[str, str]:
    """Fingerprints of the frozen backbones a head depends on."""
    if isinstance(model, BaselineCNN):
        return {}
    prints = {"vision": backbone_fingerprint(model.sources.backbone)}
    if model.decoder is not None:
        prints["llm"] = backbone_fingerprint(model.decoder)
    return prints
