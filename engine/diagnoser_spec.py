"""``DiagnoserSpec``: the one recipe for a Diagnoser, for every caller that builds one.

The CLI (from its flags), the viewer (from its Settings), the PACS node and the Dask workers (it travels by
pickle) all describe the model they want with a spec and call ``build``; nobody passes the Diagnoser's options
by hand, so the threshold and operating point cannot go missing on one route. Torch-free: importing it costs
nothing; ``build`` loads the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.decision import ThresholdChoice

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser
    from engine.segment import LungSegmenter

PLUGIN_NAME = "pneumollm-diagnoser"


@dataclass(frozen=True)
class DiagnoserSpec:
    """What to load: a head (default: the installed one, else the shipped one), the full profile's local weights,
    the device, the operating threshold, and the torch threads of a worker process."""

    model_dir: str | None = None
    vision_weights: str | None = None
    llm_path: str | None = None
    device: str = "auto"
    threshold: ThresholdChoice = field(default_factory=ThresholdChoice)
    threads: int | None = None  # torch threads of the process that builds it; None = torch's default

    @classmethod
    def of(cls, model_dir: str | Path | None = None, *, vision_weights: str | Path | None = None,
           llm_path: str | Path | None = None, device: str = "auto", threshold: float | None = None,
           operating_point: str | None = None, threads: int | None = None) -> DiagnoserSpec:
        """A spec from loose values (paths or strings, empty strings meaning "not given")."""
        def text(value: str | Path | None) -> str | None:
            return str(value) if value else None

        return cls(text(model_dir), text(vision_weights), text(llm_path), device,
                   ThresholdChoice(threshold, operating_point or None), threads)

    @property
    def plugin_name(self) -> str:
        """One name per distinct spec: a long-running cluster reuses loaded models for the same spec and loads a
        second model, not the wrong one, for another."""
        return f"{PLUGIN_NAME}-{hashlib.sha256(repr(self).encode()).hexdigest()[:12]}"

    def build(self, *, segmenter: LungSegmenter | None = None,
              progress: Callable[[str], None] | None = None) -> Diagnoser:
        """Load the model (seconds; torch is imported here).

        Raises:
            ModelLoadError: a missing or damaged head, weights that do not load, an operating point the head
                does not offer. An ILO head (``engine.model.ilo_model``) gets ``engine.ilo.diagnoser.IloDiagnoser``.
        """
        from engine.diagnoser import Diagnoser
        from engine.model.ilo_model import is_ilo_head
        from engine.model.store import active_head_dir

        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        folder = self.model_dir or active_head_dir()
        if is_ilo_head(folder):  # profusion and zones: the same facade, other inputs
            from engine.ilo.diagnoser import IloDiagnoser

            return IloDiagnoser(folder, device=self.device, segmenter=segmenter, progress=progress,
                                threshold=self.threshold)
        return Diagnoser(self.model_dir, vision_weights=self.vision_weights, llm_path=self.llm_path,
                         device=self.device, segmenter=segmenter, progress=progress, threshold=self.threshold)
