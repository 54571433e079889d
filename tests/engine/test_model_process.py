"""The model in its own process: requests, events, errors, cancel, and a restart after the child dies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.decision import ThresholdChoice
from engine.diagnoser_spec import DiagnoserSpec
from engine.errors import Cancelled, DicomReadError
from engine.model_host import ModelInfo
from engine.model_process import ModelProcess, ModelProcessStopped
from engine.reading import MapReady, ResultReady, StageStarted
from tests.dicom_factory import chest_like, make_dicom
from tests.head_factory import make_tiny_head


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ModelProcess:
    head = make_tiny_head(tmp_path_factory.mktemp("head") / "head")
    process = ModelProcess(DiagnoserSpec.of(head, device="cpu", threads=1))
    yield process
    process.close()


def test_a_request_streams_the_reading_events_and_returns(model: ModelProcess, tmp_path: Path) -> None:
    lines: list[object] = []
    info = model.run("load", progress=lines.append)
    assert isinstance(info, ModelInfo) and info.profile == "tiny-test" and info.source_names
    assert model.running and model.starts == 1
    events: list[object] = []
    film = make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA")
    assert model.run("read", film, progress=events.append, saliency=False) is None
    kinds = [type(event) for event in events]
    assert StageStarted in kinds and ResultReady in kinds and MapReady in kinds
    result = next(e for e in events if isinstance(e, ResultReady)).result
    assert 0.0 <= result.probability <= 1.0 and result.lung_crop.mask.shape == (300, 280)
    placement = next(e for e in events if isinstance(e, MapReady)).placement
    assert placement.reference is not None and placement.point is not None  # the map survives the pipe


def test_the_engines_errors_arrive_as_themselves(model: ModelProcess, tmp_path: Path) -> None:
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM" * 10)
    with pytest.raises(DicomReadError):
        model.run("read", broken)
    assert model.running  # a bad file is an answer, not a crash


def test_cancel_reaches_the_child(model: ModelProcess, tmp_path: Path) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    for index in range(6):
        make_dicom(folder / f"{index}.dcm", chest_like(200, 190), ViewPosition="PA")
    seen: list[object] = []
    with pytest.raises(Cancelled):
        model.run("triage_folder", folder, tmp_path / "out.csv", 2, progress=seen.append,
                  cancelled=lambda: any(kind == "rows" for kind, _ in seen))
    assert sum(len(value) for kind, value in seen if kind == "rows") < 6


def test_a_child_killed_mid_request_is_reported_then_restarted(model: ModelProcess, tmp_path: Path) -> None:
    model.run("choose_threshold", ThresholdChoice(0.0))
    film = make_dicom(tmp_path / "b.dcm", chest_like(300, 280), ViewPosition="PA")
    with pytest.raises(ModelProcessStopped, match="stopped unexpectedly"):
        model.run("read", film, saliency=False, progress=lambda _event: model.kill())  # dies mid-request
    assert not model.running
    starts = model.starts
    events: list[object] = []
    model.run("read", film, progress=events.append, saliency=False)
    assert model.starts == starts + 1
    result = next(e for e in events if isinstance(e, ResultReady)).result
    assert result.threshold == 0.0 and result.decision.threshold_source.value == "settings override"
    model.run("choose_threshold", ThresholdChoice())


def test_zone_evidence_for_a_shown_result(model: ModelProcess, dicom_dir: Path) -> None:
    events: list[object] = []
    model.run("read", dicom_dir / "RG1_UNCR.dcm", progress=events.append, saliency=False, allow_flagged=True)
    result = next(e for e in events if isinstance(e, ResultReady)).result
    assert not result.lung_crop.fallback  # a real radiograph: its lungs are found
    report = model.run("zone_evidence", result, None)
    assert len(report.zones) == 6 and all(np.isfinite(z.occlusion_evidence) for z in report.zones)
