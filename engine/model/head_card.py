"""The head card: everything a trained head needs besides its weights, as one typed, validated record.

``head.json`` beside ``head.safetensors`` holds it. The operating point (threshold, temperature, the positive
class) travels with the weights, as torchxrayvision keeps ``op_threshs`` in the model, so no GUI code ever
guesses a threshold. ``load_head_card`` is the only reader: a malformed card is refused with a message that
names the fix, never patched with defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError
from engine.model.config import ModelConfig, PreprocessConfig

CARD_NAME = "head.json"
TRAINING_HASHES = "training_images.json"  # content hashes of the training images, beside the card
# The intended use of heads trained on simulated films (the ILO phantom); the viewer's banner says it while such a
# head is active.
SIMULATION_USE = "SIMULATION - trained on synthetic opacities; for trying the ILO workflow, never for patients"
FORMAT_VERSION = 2  # 2: the token engine's weights are named ``token_engine.*`` (1: ``engine.*``)


@dataclass(frozen=True)
class IntendedUse:
    """Who and what the head was trained for; inference checks DICOM tags against it."""

    population: str = "unspecified"  # "adult" | "paediatric" | "any" | "unspecified"
    age_years: tuple[float, float] | None = None  # inclusive range of patient ages the training data covered
    views: tuple[str, ...] = ("PA", "AP")  # ViewPosition values
    modalities: tuple[str, ...] = ("CR", "DX")  # DICOM Modality values
    description: str = ""  # one sentence for the About box and exports

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> IntendedUse:
        if not data:
            return cls()
        ages = data.get("age_years")
        return cls(population=str(data.get("population", "unspecified")),
                   age_years=(float(ages[0]), float(ages[1])) if ages else None,
                   views=tuple(str(v).upper() for v in data.get("views", cls.views)),
                   modalities=tuple(str(m).upper() for m in data.get("modalities", cls.modalities)),
                   description=str(data.get("description", "")))


class BinaryLabels:
    """The positive and negative class names of anything with ``labels`` and ``positive_index``."""

    labels: tuple[str, ...]
    positive_index: int

    @property
    def positive_label(self) -> str:
        return self.labels[self.positive_index]

    @property
    def negative_label(self) -> str:
        return next(label for index, label in enumerate(self.labels) if index != self.positive_index)


@dataclass(frozen=True)
class HeadCard(BinaryLabels):
    profile: str  # "embedded" | "full" (engine.model.registry)
    model: ModelConfig
    preprocess: PreprocessConfig
    labels: tuple[str, ...]  # class names, aligned with the head's outputs
    positive_index: int  # which label is the finding
    threshold: float  # operating threshold on the calibrated positive probability
    temperature: float  # calibration: softmax(logits / temperature)
    fingerprints: Mapping[str, str]  # frozen backbones the head was trained on ({"vision": ..., "llm": ...})
    model_id: str = ""  # sha256 of the weights file, first 16 hex digits
    variant: str = "pneumollm"
    baseline: bool = False  # the plain CNN baseline instead of PneumoLLM
    threshold_source: str = ""  # how the threshold was chosen, in words
    intended_use: IntendedUse = IntendedUse()
    # Operating points chosen on the validation split: rule -> threshold, sensitivity, specificity, 95 % CIs, n.
    operating_points: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)  # data summary, recipe, minutes
    metrics: Mapping[str, Any] = field(default_factory=dict)  # validation and cross-validation metrics
    parameters: Mapping[str, int] = field(default_factory=dict)
    roc: Mapping[str, Any] | None = None
    created: str = ""
    stand_in_note: str = ""  # when trained on stand-in data: what it is not
    model_card: str = ""  # file name of the model card beside head.json
    format_version: int = FORMAT_VERSION
    grades: tuple[str, ...] = ()  # ordered grades of the ordinal head (e.g. ILO categories "0".."3"); () = none
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this version does not know, kept on save

    def describe(self) -> str:
        """One line: id, profile, classes."""
        return f"head {self.model_id or '?'}, profile {self.profile}, classes {' / '.join(self.labels)}"

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data["model"] = self.model.to_json()
        data["preprocess"] = asdict(self.preprocess)
        data["intended_use"] = asdict(self.intended_use)
        data["labels"] = list(self.labels)
        data["grades"] = list(self.grades)
        return {**self.extra, **_plain(data)}

    @classmethod
    def from_json(cls, data: Any, *, where: Path | str = "head.json") -> HeadCard:
        """Validate and type a card; ModelLoadError names what is wrong."""

        def bad(problem: str) -> ModelLoadError:
            return ModelLoadError(f"{CARD_NAME} is malformed ({problem}) — reinstall or retrain this head.",
                                  path=where)

        if not isinstance(data, Mapping):
            raise bad("not a JSON object")
        for key in ("profile", "model", "labels", "threshold", "temperature"):
            if key not in data:
                raise bad(f"no {key!r}")
        labels = data["labels"]
        if (not isinstance(labels, list) or len(labels) < 2 or len(set(labels)) != len(labels)
                or not all(isinstance(label, str) and label for label in labels)):
            raise bad("'labels' must list at least two distinct class names")
        positive = data.get("positive_index", 1)
        if not isinstance(positive, int) or not 0 <= positive < len(labels):
            raise bad(f"'positive_index' {positive!r} does not index the labels")
        threshold, temperature = _number(data["threshold"]), _number(data["temperature"])
        if threshold is None or not 0.0 <= threshold <= 1.0:
            raise bad("'threshold' must be a number in [0, 1]")
        if temperature is None or temperature <= 0:
            raise bad("'temperature' must be a positive number")
        if not isinstance(data["model"], Mapping):
            raise bad("'model' must be an object")
        try:
            model = ModelConfig.from_json(dict(data["model"]))
            preprocess = _preprocess(data.get("preprocess"))
            intended = IntendedUse.from_json(data.get("intended_use"))
            operating_points = _operating_points(data.get("operating_points"))
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise bad(str(exc) or type(exc).__name__) from None
        grades = data.get("grades") or []
        if not isinstance(grades, list) or not all(isinstance(g, str) for g in grades):
            raise bad("'grades' must list the ordered grade names")
        if len(grades) != model.ordinal_grades and (grades or model.ordinal_grades):
            raise bad(f"{len(grades)} grades named for an ordinal head of {model.ordinal_grades}")
        fingerprints = data.get("fingerprints", {})
        if not isinstance(fingerprints, Mapping) or not all(isinstance(v, str) for v in fingerprints.values()):
            raise bad("'fingerprints' must map backbone names to strings")
        known = {f.name for f in fields(cls)}
        return cls(
            profile=str(data["profile"]), model=model, preprocess=preprocess, labels=tuple(labels),
            positive_index=positive, threshold=threshold, temperature=temperature, fingerprints=dict(fingerprints),
            model_id=str(data.get("model_id", "")), variant=str(data.get("variant", "pneumollm")),
            baseline=bool(data.get("baseline", False)), threshold_source=str(data.get("threshold_source", "")),
            intended_use=intended, operating_points=operating_points,
            training=dict(data.get("training") or {}), metrics=dict(data.get("metrics") or {}),
            parameters=dict(data.get("parameters") or {}), roc=data.get("roc"), created=str(data.get("created", "")),
            stand_in_note=str(data.get("stand_in_note", "")), model_card=str(data.get("model_card", "")),
            format_version=int(data.get("format_version", 1)), grades=tuple(grades),
            extra={k: v for k, v in data.items() if k not in known})

    def with_changes(self, **changes: Any) -> HeadCard:
        return replace(self, **changes)


def is_simulation(card: HeadCard) -> bool:
    """A head trained on simulated films: every screen that shows its output says SIMULATION."""
    return card.intended_use.description.startswith("SIMULATION")


def load_head_card(folder: str | Path) -> HeadCard:
    """Read and validate ``folder/head.json`` without touching the weights."""
    path = Path(folder) / CARD_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"No trained head in {Path(folder)} (no {CARD_NAME}) — train one with "
                             "`pneumollm train` or install the default head.", path=folder) from None
    except (OSError, ValueError):
        raise ModelLoadError(f"{CARD_NAME} is damaged — reinstall or retrain this head.", path=folder) from None
    return HeadCard.from_json(data, where=folder)


def write_training_hashes(folder: Path, hashes: list[str]) -> None:
    """Keep the content hashes (``engine.paths.file_sha256``) of the images a head was trained on, so an
    evaluation can say how much of its data the head has already seen."""
    from engine.paths import write_atomic

    write_atomic(Path(folder) / TRAINING_HASHES, json.dumps(sorted(set(hashes))).encode())


def read_training_hashes(folder: Path) -> frozenset[str] | None:
    """The training images' hashes, or None for heads saved before they were kept."""
    try:
        data = json.loads((Path(folder) / TRAINING_HASHES).read_text())
    except (OSError, ValueError):
        return None
    return frozenset(str(h) for h in data) if isinstance(data, list) else None


def _operating_points(data: Any) -> dict[str, dict[str, Any]]:
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise TypeError("'operating_points' must be an object")
    points = {}
    for rule, point in data.items():
        threshold = _number(point.get("threshold")) if isinstance(point, Mapping) else None
        if threshold is None or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"operating point {rule!r} needs a threshold in [0, 1]")
        points[str(rule)] = dict(point)
    return points


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _preprocess(data: Any) -> PreprocessConfig:
    if data is None:
        return PreprocessConfig()
    size = int(data["input_size"])
    mean, std = tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"])
    if size < 16 or len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError("'preprocess' needs input_size >= 16 and three means and three positive stds")
    effective, source = data.get("effective_side"), data.get("source_long_side")
    if effective is not None and int(effective) < 16:
        raise ValueError("'preprocess.effective_side' must be at least 16 pixels")
    grid, quality = data.get("film_grid"), data.get("film_jpeg_quality")
    if grid is not None and int(grid) < 16:
        raise ValueError("'preprocess.film_grid' must be at least 16 pixels")
    if quality is not None and not 1 <= int(quality) <= 100:
        raise ValueError("'preprocess.film_jpeg_quality' must be a JPEG quality 1-100")
    return PreprocessConfig(input_size=size, mean=mean, std=std,  # type: ignore[arg-type]
                            effective_side=None if effective is None else int(effective),
                            source_long_side=None if source is None else int(source),
                            film_grid=None if grid is None else int(grid),
                            film_jpeg_quality=None if quality is None else int(quality))


def _plain(value: Any) -> Any:
    """Tuples and mappings as JSON lists and objects."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def describe_rule(rule: str) -> str:
    """An operating point's rule for people: "sensitivity:0.95" -> "sensitivity 95% or more"."""
    kind, _, target = rule.partition(":")
    if kind == "youden":
        return "Youden's J"
    return f"{kind} {float(target):.0%} or more"
