"""The Diagnoser of an ILO head: built by the same spec as a crop head's, fed exactly the features the head was
trained on, answering with the head's suggestion; served by the viewer's model requests without Grad-CAM.

Uses the shipped demonstration head (``resources/heads/ilo-phantom``) on held-out phantom films
(``../shared/data/ilo-phantom``; skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.diagnoser_spec import DiagnoserSpec
from engine.ilo.codes import PROFUSION, ZONES
from engine.io import load_image
from engine.model.ilo_model import SHAPE_LETTERS
from engine.paths import RESOURCES

ILO_HEAD = RESOURCES / "heads" / "ilo-phantom"
HELD_OUT = ("ilo_sim_JPCNN002_2.png", "ilo_sim_JPCNN002_7.png")  # patient JPCNN002 is in the head's hold-out


@pytest.fixture(scope="module")
def films(shared_data: Path) -> list[Path]:
    folder = shared_data / "ilo-phantom" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    return [folder / name for name in HELD_OUT]


@pytest.fixture(scope="module")
def ilo_diagnoser():
    if not (ILO_HEAD / "head.json").exists():
        pytest.skip("the ILO demonstration head is not in resources/heads/ilo-phantom")
    return DiagnoserSpec.of(ILO_HEAD, device="cpu").build()


def test_the_spec_builds_the_ilo_diagnoser_for_an_ilo_head(ilo_diagnoser) -> None:
    from engine.ilo.diagnoser import IloDiagnoser

    assert isinstance(ilo_diagnoser, IloDiagnoser)
    assert ilo_diagnoser.source_names == [zone.replace("_", " ") for zone in ZONES]
    assert not ilo_diagnoser.grad_cam_available and ilo_diagnoser.reference_map is None


def test_the_result_is_the_heads_answer_on_its_training_features(ilo_diagnoser, films: list[Path]) -> None:
    """The same numbers ``pneumollm evaluate`` scores: ``features_of`` on the full 8-bit film, ``predict_raw``."""
    from engine.ilo.zone_features import features_of
    from training.ilo_train import predict_raw, to_predictions

    for film in films:
        result = ilo_diagnoser.predict(film)
        features = features_of(load_image(film).model_uint8, ilo_diagnoser.segmenter, ilo_diagnoser.encoder)
        raw = predict_raw(ilo_diagnoser.model, features.zones[None])
        expected = to_predictions(raw, ilo_diagnoser.card.temperature)
        assert result.probability == pytest.approx(float(expected.probability[0]), abs=1e-5)
        suggestion = result.ilo
        assert suggestion is not None and suggestion.simulation
        assert suggestion.profusion == PROFUSION[int(expected.grade[0])]
        assert suggestion.category == int(expected.category[0]) and result.suggested_grade == str(suggestion.category)
        assert [suggestion.zone_probability[z] for z in ZONES] == pytest.approx(expected.zone_probability[0], abs=1e-5)
        assert [suggestion.zone_profusion[z] for z in ZONES] == [PROFUSION[int(g)] for g in expected.zone_grade[0]]
        assert suggestion.shape_output and expected.shape_probability is not None  # the head has a shape output
        letter = SHAPE_LETTERS[int(expected.shape[0])]
        assert suggestion.shape == (letter if result.decision.flagged else None)  # only for a film called abnormal
        if result.decision.flagged:
            assert suggestion.shape_probability == pytest.approx(float(expected.shape_probability[0].max()), abs=1e-5)
            assert result.to_json()["ilo_suggestion"]["shape"] == letter
        assert result.lung_crop.mask.shape == load_image(film).pixels.shape[:2]  # zones from the full film
        assert result.to_json()["ilo_suggestion"]["profusion"] == suggestion.profusion


def test_the_viewers_read_request_serves_it_without_grad_cam(ilo_diagnoser, films: list[Path]) -> None:
    from engine.model_host import LocalModel
    from engine.reading import ModelSession, ResultReady, SaliencyReady

    session = ModelSession(lambda _progress: ilo_diagnoser)
    events: list[object] = []
    LocalModel(session).run("read", str(films[0]), progress=events.append)
    results = [e for e in events if isinstance(e, ResultReady)]
    assert len(results) == 1 and results[0].result.ilo is not None
    assert results[0].source_names == tuple(zone.replace("_", " ") for zone in ZONES)
    assert not [e for e in events if isinstance(e, SaliencyReady)]


def test_a_crop_head_still_gets_the_crop_diagnoser(tmp_path: Path) -> None:
    from engine.diagnoser import Diagnoser
    from engine.ilo.diagnoser import IloDiagnoser
    from engine.segment import LungSegmenter
    from tests.head_factory import make_tiny_head

    built = DiagnoserSpec.of(make_tiny_head(tmp_path / "head", with_map=False), device="cpu").build(
        segmenter=LungSegmenter(weights=None))
    assert isinstance(built, Diagnoser) and not isinstance(built, IloDiagnoser)
    assert built.grad_cam_available


def test_the_model_process_serves_it_to_the_window(films: list[Path]) -> None:
    """The viewer's default path: the head in a process of its own; the suggestion crosses the pipe with the result."""
    from engine.model.head_card import is_simulation
    from engine.model_process import ModelProcess
    from engine.reading import ResultReady

    if not (ILO_HEAD / "head.json").exists():
        pytest.skip("the ILO demonstration head is not in resources/heads/ilo-phantom")
    process = ModelProcess(DiagnoserSpec.of(ILO_HEAD, device="cpu", threads=1))
    try:
        info = process.run("load")
        assert is_simulation(info.card) and info.source_names[0] == "right upper"
        events: list[object] = []
        process.run("read", str(films[0]), progress=events.append)
    finally:
        process.close()
    results = [e.result for e in events if isinstance(e, ResultReady)]
    assert len(results) == 1 and results[0].ilo is not None and results[0].ilo.simulation
