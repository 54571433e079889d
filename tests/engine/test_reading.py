"""``read_case``: the stages the viewer draws, as typed events, from one lazily built model session."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.decision import ThresholdChoice
from engine.diagnoser import Diagnoser
from engine.errors import UnsupportedImageError
from engine.io import load_image
from engine.reading import MapReady, ModelSession, ResultReady, SaliencyReady, StageStarted, read_case
from engine.segment import LungSegmenter
from tests.dicom_factory import chest_like, make_dicom
from tests.head_factory import make_tiny_head


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> ModelSession:
    head = make_tiny_head(tmp_path_factory.mktemp("reading") / "head")
    built: list[str] = []

    def factory(progress):
        built.append("once")
        progress("loading")
        return Diagnoser(head, segmenter=LungSegmenter(weights=None))

    session = ModelSession(factory)
    session.built = built  # type: ignore[attr-defined]
    return session


def test_events_in_order_with_every_aid(session: ModelSession, tmp_path: Path) -> None:
    image = load_image(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    events = list(read_case(session, image))
    kinds = [type(event) for event in events if not isinstance(event, StageStarted)]
    assert kinds == [ResultReady, MapReady, SaliencyReady]
    result = next(e for e in events if isinstance(e, ResultReady))
    assert result.outline.shape == result.result.lung_crop.mask.shape and result.source_names
    placement = next(e for e in events if isinstance(e, MapReady)).placement
    assert placement.reference is not None and placement.point is not None and len(placement.nearest) == 5
    assert next(e for e in events if isinstance(e, SaliencyReady)).saliency.shape == (300, 280)
    list(read_case(session, image, saliency=False))
    assert session.built == ["once"]  # type: ignore[attr-defined]


def test_threshold_override_reaches_every_later_result(session: ModelSession, tmp_path: Path) -> None:
    image = load_image(make_dicom(tmp_path / "a.dcm", chest_like(300, 280), ViewPosition="PA"))
    session.choose_threshold(ThresholdChoice(0.0))
    try:
        result = next(e for e in read_case(session, image, saliency=False) if isinstance(e, ResultReady)).result
        assert result.threshold == 0.0 and result.decision.flagged
    finally:
        session.choose_threshold(ThresholdChoice())


def test_flagged_files_raise_before_any_result(session: ModelSession, tmp_path: Path) -> None:
    image = load_image(make_dicom(tmp_path / "lat.dcm", chest_like(), ViewPosition="LL"))
    events = read_case(session, image)
    with pytest.raises(UnsupportedImageError):
        for event in events:
            assert not isinstance(event, ResultReady)


def test_an_operating_point_the_head_lacks_is_refused_not_dropped(session: ModelSession) -> None:
    from engine.errors import ModelLoadError

    session.diagnoser()
    with pytest.raises(ModelLoadError, match="no operating point 'sensitivity:0.99'"):
        session.choose_threshold(ThresholdChoice(operating_point="sensitivity:0.99"))
    session.choose_threshold(ThresholdChoice())


def test_a_file_is_decoded_once_by_the_model_path(session: ModelSession, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The model process gets the viewer's file by path: the Diagnoser decodes it (reduced where the model needs
    less), with no full screen-sized decode before it."""
    import engine.io
    from engine import model_host

    path = make_dicom(tmp_path / "large.dcm", chest_like(1400, 1300), ViewPosition="PA")
    expected = session.diagnoser().predict(path)

    def no_full_decode(*_args, **_kwargs):
        raise AssertionError("the model path decoded the file in full first")

    monkeypatch.setattr(engine.io, "load_image", no_full_decode)
    monkeypatch.setattr("engine.io.load.load_image", no_full_decode)
    events: list[object] = []
    model_host.read(session, path, progress=events.append, cancelled=lambda: False, saliency=False)
    result = next(e for e in events if isinstance(e, ResultReady)).result
    assert result.probability == expected.probability
