"""PneumoLLM for the ILO questions: the paper's token engine, neck, (optional) frozen LLM behind the emitter mask,
on frozen-encoder features of the whole lung or of the six ILO zones, with the reader's heads.

Inputs are ``engine.ilo.zone_features`` vectors, so training never runs the encoder (the encoder adapters stay at
their zero-initialised identity):

* ``view="whole"`` (the paper's input): d = 6 source tokens, one per encoder depth of the 224 lung crop, each
  projected to n (as ``EfficientNetSources`` does);
* ``view="zones"`` (zone resolution): d = 6 source tokens, one per ILO zone (a shared projection of that zone's
  pooled features, plus a learnt zone embedding), so the token engine mixes zones and the LLM sees zone tokens.

Heads (shapes: B batch, W width): abnormal vs normal (B, 2); the major category, ordinal (B, 3); the 12-point
profusion, ordinal (B, 11); per-zone presence (B, 6); per-zone profusion, ordinal (B, 6, 11); and, for heads trained
with it, the primary shape of the small opacities (B, 6: the ILO letters p q r s t u, on the pooled state). In the
zone view the zone heads read each zone token's own output state; in the whole view they read the pooled state.

Head versions (the card's ``ilo.version``): 1 (or absent) has no shape output; 2 adds it (``ilo.shapes`` names the
letters). A version-1 head still loads and runs, without a shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.ilo.codes import PROFUSION, SHAPES, ZONES
from engine.ilo.zone_features import TAP_CHANNELS, WHOLE_DIM, ZONE_DIM
from engine.model.config import ModelConfig
from engine.model.head_card import HeadCard, load_head_card
from engine.model.pneumollm import ModelOutput, OrdinalHead, PneumoLLM

VIEWS = ("zones", "whole")
GRADES = len(PROFUSION)  # 12
CATEGORIES = 4
SHAPE_LETTERS: tuple[str, ...] = tuple(SHAPES)  # p q r s t u: the shape head's classes, in this order
ILO_HEAD_VERSION = 2  # the card's ``ilo.version``: 2 adds the shape output (1 or absent: none)


@dataclass
class IloOutput(ModelOutput):
    profusion_logits: torch.Tensor | None = None  # (B, 11) cumulative: P(grade index > k)
    zone_logits: torch.Tensor | None = None  # (B, 6) presence (>= 1/0 in that zone)
    zone_profusion_logits: torch.Tensor | None = None  # (B, 6, 11) cumulative, per zone
    shape_logits: torch.Tensor | None = None  # (B, 6) primary shape, SHAPE_LETTERS order; None without a shape head


class FeatureSources(nn.Module):
    """Cached features -> source tokens (B, d, n). The per-feature standardisation (``feature_mean`` /
    ``feature_std``) is set from the training films once and saved with the head."""

    def __init__(self, view: str, width: int, dropout: float = 0.2) -> None:
        super().__init__()
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; valid: {', '.join(VIEWS)}")
        self.view = view
        self.width = width
        self.num_tokens = len(ZONES) if view == "zones" else len(TAP_CHANNELS)
        dim = ZONE_DIM if view == "zones" else WHOLE_DIM
        self.feature_mean = nn.Parameter(torch.zeros(dim), requires_grad=False)
        self.feature_std = nn.Parameter(torch.ones(dim), requires_grad=False)
        self.dropout = nn.Dropout(dropout)
        if view == "zones":
            self.projection = nn.Linear(dim, width)
            self.zone_embedding = nn.Parameter(torch.zeros(len(ZONES), width))
        else:
            self.projections = nn.ModuleList(nn.Linear(c, width) for c in TAP_CHANNELS)

    def standardise_from(self, features: torch.Tensor) -> None:
        """Per-feature mean and std over training films ((N, dim) or (N, 6, dim), zones pooled together)."""
        flat = features.reshape(-1, features.shape[-1]).float()
        with torch.no_grad():
            self.feature_mean.copy_(flat.mean(dim=0))
            self.feature_std.copy_(flat.std(dim=0).clamp_min(1e-4))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout((features - self.feature_mean) / self.feature_std)
        if self.view == "zones":
            return self.projection(x) + self.zone_embedding  # (B, 6, n)
        parts = torch.split(x, list(TAP_CHANNELS), dim=-1)
        return torch.stack([p(part) for p, part in zip(self.projections, parts, strict=True)], dim=1)  # (B, 6, n)

    def token_names(self) -> list[str]:
        if self.view == "zones":
            return [zone.replace("_", " ") for zone in ZONES]
        return ["block 3", "block 5", "block 8", "block 11", "block 15", "head conv"]


class IloPneumoLLM(PneumoLLM):
    def __init__(self, config: ModelConfig, view: str, decoder: nn.Module | None, shapes: bool = False) -> None:
        config = ModelConfig.from_json({**config.to_json(), "ordinal_grades": CATEGORIES})
        super().__init__(config, FeatureSources(view, config.source_width), decoder)
        self.view = view
        width = self.width
        self.profusion_head = OrdinalHead(width, GRADES)
        zones = len(ZONES)
        if view == "zones":  # shared over zone tokens, a bias per zone
            self.zone_presence = nn.Linear(width, 1)
            self.zone_presence_bias = nn.Parameter(torch.zeros(zones))
            self.zone_profusion = OrdinalHead(width, GRADES)
        else:  # from the pooled state: one output per zone
            self.zone_presence = nn.Linear(width, zones)
            self.zone_profusion_score = nn.Linear(width, zones, bias=False)
            self.zone_profusion_bias = nn.Parameter(torch.linspace(1.0, -1.0, GRADES - 1).repeat(zones, 1))
        # The primary shape is one answer per film (the form's "primary"), so it reads the pooled state.
        self.shape_head = nn.Linear(width, len(SHAPE_LETTERS)) if shapes else None

    def forward(self, features: torch.Tensor, output_attentions: bool = False) -> IloOutput:
        hidden, mixing, attention = self.token_states(self.sources(features), output_attentions)
        pooled = hidden.mean(dim=1)  # (B, W)
        if self.view == "zones":
            zone_states = hidden[:, : self.d]  # (B, 6, W): each zone token's output
            zone_logits = self.zone_presence(zone_states).squeeze(-1) + self.zone_presence_bias  # (B, 6)
            zone_profusion = self.zone_profusion(zone_states)  # (B, 6, 11)
        else:
            zone_logits = self.zone_presence(pooled)  # (B, 6)
            zone_profusion = self.zone_profusion_score(pooled)[..., None] + self.zone_profusion_bias  # (B, 6, 11)
        shape_logits = self.shape_head(pooled) if self.shape_head is not None else None
        return IloOutput(self.head(pooled), pooled, mixing, attention, self.grade_head(pooled),
                         self.profusion_head(pooled), zone_logits, zone_profusion, shape_logits)

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights and the features' standardisation (set from the training films)."""
        state = super().trained_state_dict()
        state["sources.feature_mean"] = self.sources.feature_mean.detach()
        state["sources.feature_std"] = self.sources.feature_std.detach()
        return state


def build_ilo_model(config: ModelConfig, view: str, shapes: bool = False) -> IloPneumoLLM:
    """The ILO model a config describes (the frozen LLM loaded when ``config.use_llm``; a shape head when
    ``shapes``)."""
    decoder = None
    if config.use_llm:
        from engine.model.llm import load_decoder

        decoder = load_decoder(config.llm, config.llm_path, config.tiny_test_dims)
    return IloPneumoLLM(config, view, decoder, shapes)


ILO_KIND = "ilo-heads"  # a head card's ``extra["ilo"]["kind"]`` for these heads


def ilo_info(card: HeadCard) -> dict | None:
    """The card's ILO section (view, feature settings, names), or None for a crop head."""
    info = card.extra.get("ilo")
    return dict(info) if isinstance(info, dict) and info.get("kind") == ILO_KIND else None


def has_shape_output(info: dict) -> bool:
    """Whether the card's ILO section describes a shape head (version 2 heads trained with shapes)."""
    return list(info.get("shapes") or []) == list(SHAPE_LETTERS)


def is_ilo_head(folder: str | Path) -> bool:
    """Whether ``folder`` holds an ILO head (a cheap look at its card; False when there is no card)."""
    try:
        return ilo_info(load_head_card(folder)) is not None
    except ModelLoadError:
        return False


def encoder_fingerprints(config: ModelConfig, decoder: nn.Module | None = None) -> dict[str, str]:
    """The frozen backbones an ILO head depends on: the ImageNet EfficientNet-Lite0 (and the LLM when used)."""
    from engine.model.backbones import efficientnet_lite0
    from engine.model.pneumollm import backbone_fingerprint

    prints = {"vision": backbone_fingerprint(efficientnet_lite0(pretrained=True))}
    if decoder is not None:
        prints["llm"] = backbone_fingerprint(decoder)
    return prints


def load_ilo_head(folder: str | Path) -> tuple[IloPneumoLLM, HeadCard]:
    """An ILO head with its weights, checked against the backbones it was trained on."""
    from engine.model.checkpoint import apply_checkpoint, load_checkpoint

    checkpoint = load_checkpoint(folder)
    info = ilo_info(checkpoint.card)
    if info is None:
        raise ModelLoadError(f"{Path(folder).name} holds a lung-crop head, not an ILO head — use it with "
                             "`pneumollm predict`, or train an ILO head on ILO-graded films.", path=Path(folder))
    model = build_ilo_model(checkpoint.card.model, str(info["view"]), has_shape_output(info))
    apply_checkpoint(model, checkpoint, encoder_fingerprints(checkpoint.card.model, model.decoder))
    return model.eval(), checkpoint.card
