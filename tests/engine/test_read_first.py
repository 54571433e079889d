"""Read first: which of a diagnosis' events wait for the reader, which are drawn, which are stale."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.read_first import ReadFirstSession
from engine.reading import MapPlacement, MapReady, ResultReady, SaliencyReady, StageStarted

RESULT: Any = object()  # the session never looks inside a result


def events() -> tuple[StageStarted, ResultReady, MapReady, SaliencyReady]:
    return (StageStarted("Diagnosing…"), ResultReady(RESULT, ("depth 1",), np.zeros((4, 4), bool)),
            MapReady(MapPlacement(None, None, None, "no map")), SaliencyReady(None))


def test_read_first_holds_what_the_model_says_and_passes_progress() -> None:
    session = ReadFirstSession(read_first=True)
    stage, result, placed, saliency = events()
    assert not session.revealed and not session.held
    assert [session.hold(event) for event in (stage, result, placed, saliency)] == [False, True, True, True]
    assert session.held
    assert session.reveal() == [result, placed, saliency]  # in the order they came
    assert session.revealed and not session.held
    assert not session.hold(result), "once the reader has asked, later events are drawn at once"


def test_without_read_first_nothing_is_held() -> None:
    session = ReadFirstSession(read_first=False)
    assert session.revealed
    assert not any(session.hold(event) for event in events())
    assert session.reveal() == []


def test_each_new_image_waits_for_the_reader_again() -> None:
    session = ReadFirstSession(read_first=True)
    _stage, result, _placed, _saliency = events()
    session.hold(result)
    session.new_image(read_first=True)
    assert not session.held and not session.revealed
    session.reveal()
    session.new_image(read_first=False)  # the Settings changed meanwhile
    assert session.revealed


def test_a_cancel_or_a_newer_diagnosis_makes_a_token_stale() -> None:
    session = ReadFirstSession(read_first=True)
    first = session.start_diagnosis()
    assert session.is_current(first)
    session.cancel()
    assert not session.is_current(first)
    second = session.start_diagnosis()
    assert session.is_current(second) and not session.is_current(first)
    assert not session.is_current(session.start_diagnosis() - 1)


def test_a_cancel_keeps_what_was_already_held() -> None:
    session = ReadFirstSession(read_first=True)
    session.start_diagnosis()
    _stage, result, _placed, _saliency = events()
    session.hold(result)
    session.cancel()
    assert session.held and session.reveal() == [result]


def test_forget_drops_what_is_held_and_says_whether_there_was_any() -> None:
    session = ReadFirstSession(read_first=True)
    assert not session.forget()
    session.hold(events()[1])
    assert session.forget() and not session.held and not session.revealed


def test_a_blind_reading_holds_whatever_the_setting_until_the_reader_signs() -> None:
    session = ReadFirstSession(read_first=False)  # results would be drawn at once ...
    stage, result, placed, saliency = events()
    session.read_blind()  # ... but another reader has signed this image and this one has not
    assert session.blind and session.held_result() is None
    assert [session.hold(event) for event in (stage, result, placed, saliency)] == [False, True, True, True]
    assert session.held_result() is RESULT  # what is signed with the reading
    assert session.reveal() == [] and session.held and not session.revealed  # asking shows nothing
    session.unblind()  # signed
    assert not session.blind and session.reveal() == [result, placed, saliency]
    session.read_blind()
    session.new_image(read_first=False)  # the next image is not blind unless the panel says so again
    assert not session.blind and session.revealed
