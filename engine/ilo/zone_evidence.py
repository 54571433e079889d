"""Zone evidence — the "disease clues": how much the model's score rests on each of the six ILO lung zones.

This is *model evidence*, not a reading: it says where the model's probability comes from, never what a
reader would see there. Two measures, kept apart because they answer different questions:

* **occlusion evidence** (faithful: it re-runs the model) — the drop in the positive-class probability when the
  zone is neutralised in the 224x224 crop. The zone is replaced by a heavily blurred copy of the crop rather than
  a constant: a flat patch adds edges the model has never seen, while the blur removes the fine texture (where
  small opacities live) and keeps the brightness. Positive: the zone pushed the score up. Six extra crops, one
  batched forward.
* **Grad-CAM mass** — the share of the lung's Grad-CAM (``engine.saliency``) inside the zone (0-1, summing to 1
  over the six zones when the map is not empty). A gradient heuristic: cheap, not a causal measure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import SegmentationError
from engine.ilo.codes import ZONES
from engine.ilo.zones import LungZones, box_json, lung_zones
from engine.lung_crop import LungCrop
from engine.result import DiagnosisResult

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser

BLUR_FRACTION = 0.04  # Gaussian radius for the neutral fill, as a fraction of the crop side (9 px at 224)
NOTE = "model evidence (what the model's score depends on), not a reading"


@dataclass(frozen=True)
class ZoneEvidence:
    name: str
    area_px: int
    box: tuple[int, int, int, int]
    occlusion_evidence: float  # probability drop when the zone is neutralised (may be negative)
    gradcam_mass: float | None  # share of the lung's Grad-CAM in the zone; None when not computed

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "area_px": self.area_px, "box": box_json(self.box),
                "occlusion_evidence": round(self.occlusion_evidence, 6),
                "gradcam_mass": None if self.gradcam_mass is None else round(self.gradcam_mass, 6)}


@dataclass(frozen=True)
class ZoneEvidenceReport:
    zones: tuple[ZoneEvidence, ...]  # ZONES order
    lung_area_px: int
    probability: float  # the model's probability on the unchanged crop
    note: str = NOTE

    def __getitem__(self, name: str) -> ZoneEvidence:
        return next(zone for zone in self.zones if zone.name == name)

    def strongest(self, *, min_evidence: float = 0.0) -> list[ZoneEvidence]:
        """Zones whose occlusion evidence exceeds ``min_evidence``, strongest first."""
        found = [zone for zone in self.zones if zone.occlusion_evidence > min_evidence]
        return sorted(found, key=lambda zone: -zone.occlusion_evidence)

    def to_json(self) -> dict[str, object]:
        return {"lung_area_px": self.lung_area_px, "probability": round(self.probability, 6), "note": self.note,
                "zones": [zone.to_json() for zone in self.zones]}


def crop_labels(zones: LungZones, crop: LungCrop) -> np.ndarray:
    """The zone label map (``LungZones.label_map``) cut to the crop's rectangle and resized to the crop (nearest)."""
    x0, y0, x1, y1 = crop.box
    labels = zones.label_map()[y0:y1, x0:x1].astype(np.int16) + 1  # 0 = outside the lungs
    side = crop.crop.shape[0]
    from PIL import Image  # here: the viewer imports this module before its window shows

    resized = Image.fromarray(labels.astype(np.uint8)).resize((side, side), Image.Resampling.NEAREST)
    return np.asarray(resized).astype(np.int16) - 1


def neutral_fill(crop: np.ndarray) -> np.ndarray:
    """The crop with its fine texture removed (a Gaussian blur), used in place of an occluded zone."""
    radius = max(1.0, BLUR_FRACTION * crop.shape[0])
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(crop).filter(ImageFilter.GaussianBlur(radius)))


def occlusion_evidence(crop: np.ndarray, labels: np.ndarray,
                       probabilities: Callable[[np.ndarray], np.ndarray]) -> tuple[float, np.ndarray]:
    """(probability of the unchanged crop, probability drop per zone in ``ZONES`` order).

    ``probabilities`` maps uint8 crops (N, S, S) to the positive-class probability (N,): the diagnoser's
    ``crop_probabilities`` in the product; any scorer in tests.
    """
    fill = neutral_fill(crop)
    batch = [crop]
    for index in range(len(ZONES)):
        occluded = crop.copy()
        inside = labels == index
        occluded[inside] = fill[inside]
        batch.append(occluded)
    scores = np.asarray(probabilities(np.stack(batch)), np.float64)
    return float(scores[0]), scores[0] - scores[1:]


def gradcam_mass(cam: np.ndarray, zones: LungZones) -> np.ndarray:
    """Each zone's share of the Grad-CAM inside the lungs (zeros when the map is empty there)."""
    masses = np.array([float(cam[zone.mask].sum()) for zone in zones.zones])
    total = masses.sum()
    return masses / total if total > 0 else masses


def zone_evidence(zones: LungZones, crop: LungCrop, probabilities: Callable[[np.ndarray], np.ndarray],
                  cam: np.ndarray | None = None) -> ZoneEvidenceReport:
    """The six zones with their occlusion evidence and (when ``cam`` is given) Grad-CAM mass."""
    probability, drops = occlusion_evidence(crop.crop, crop_labels(zones, crop), probabilities)
    masses = gradcam_mass(cam, zones) if cam is not None else [None] * len(zones.zones)
    items = tuple(ZoneEvidence(zone.name, zone.area_px, zone.box, float(drop), None if mass is None else float(mass))
                  for zone, drop, mass in zip(zones.zones, drops, masses, strict=True))
    return ZoneEvidenceReport(items, zones.lung_area_px, probability)


def evidence_for_result(diagnoser: Diagnoser, result: DiagnosisResult, *, with_gradcam: bool = True
                        ) -> tuple[LungZones, ZoneEvidenceReport]:
    """Zones and their evidence for a diagnosed case (refuses a fallback crop: its zones would be guesses)."""
    from engine.saliency import grad_cam

    if result.lung_crop.fallback:
        raise SegmentationError("The lungs were not found reliably (centred fallback crop) — no zones to measure.",
                                path=result.image_path)
    zones = lung_zones(result.lung_mask)
    cam = grad_cam(diagnoser, result) if with_gradcam and diagnoser.grad_cam_available else None
    return zones, zone_evidence(zones, result.lung_crop, diagnoser.crop_probabilities, cam)
