"""A blind second reading in the main window: the AI result is held whatever the read-first setting, Show AI result
does not show it, and signing shows it and records the model's answer with the reading."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine.ilo.double_reading import adjudication_queue
from engine.ilo.store import instance_key
from engine.io import load_image
from tests.dicom_factory import chest_like, make_dicom
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading
from tests.viewer.helpers import RESULT_TIMEOUT_MS, make_window, wait_for_image, wait_for_result
from viewer import breader_tools
from viewer.blind_reading import BLIND_NOTE


def test_a_blind_reader_sees_no_ai_result_until_they_sign(qtbot, factory, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_dicom(tmp_path / "film.dcm", chest_like(300, 280), ViewPosition="PA")
    window = make_window(qtbot, factory, read_first=False)  # results would be shown at once, but for blindness
    key = instance_key(load_image(path).meta)
    window.ilo.store.save(key, reading({**ABNORMAL, "reader": "Dr Alice"}), reader_id="B-1001")  # the first reader
    window.ilo.reader.setText("Dr Bob")
    window.ilo.reader_id.setText("B-2002")
    window.open_path(path)
    wait_for_image(qtbot, window, "film.dcm")
    qtbot.waitUntil(lambda: window.result_held and not window.diagnosis_running, timeout=RESULT_TIMEOUT_MS)
    held = window.breader.blind.model_answer()
    assert held is not None and window.panel.result is None and window.ilo.result is None  # held, not drawn
    assert window.ilo.blind and window.ilo_dock.isVisible() and window.ilo.form.reading().small.profusion is None
    assert window.panel.status.text() == BLIND_NOTE and not window.panel.reveal_button.isVisible()

    refused: list[str] = []
    monkeypatch.setattr(breader_tools, "show_error", lambda _parent, exc: refused.append(exc.user_message))
    assert window.breader.show_agreement() is None and "blind" in refused[0]  # the table holds the first reading
    window.menus.reveal.trigger()  # Show AI result (A): refused while blind
    window.panel.reveal_requested.emit()
    assert window.panel.result is None and window.result_held

    graded = replace(held, grades=("0", "1", "2", "3"), grade_probabilities=(0.1, 0.2, 0.6, 0.1))
    window.ilo.model_answer = lambda: graded  # an ordinal head's suggestion, as the held result would carry
    window.ilo.form.set_reading(reading(NORMAL))
    stored = window.ilo.sign_and_save()
    assert stored is not None and not window.ilo.blind
    assert window.panel.result is held  # signed: the result is shown now
    assert window.ilo.measuring  # and the model's zone evidence is measured for the form that is open
    qtbot.waitUntil(lambda: not window.ilo.measuring, timeout=RESULT_TIMEOUT_MS)
    assert graded.decision.diagnosed  # the synthetic PA film is read by the tiny head
    expected = ("2", graded.decision.flagged)
    assert (stored.model_category, stored.model_flagged) == expected
    assert "queued for a third, adjudicating reading" in window.ilo.double_reading.text()
    assert [case.instance_key for case in adjudication_queue(window.ilo.store)] == [key]


def test_a_first_reader_keeps_the_read_first_setting(qtbot, factory, tmp_path: Path) -> None:
    path = make_dicom(tmp_path / "film.dcm", chest_like(300, 280), ViewPosition="PA")
    window = make_window(qtbot, factory, read_first=False)
    window.ilo.reader.setText("Dr Alice")
    window.open_path(path)
    wait_for_result(qtbot, window)  # nobody has signed: not blind, the result is shown at once
    assert not window.ilo.blind and not window.read_first_session.blind
    window.ilo.form.set_reading(reading(NORMAL))
    stored = window.ilo.sign_and_save()
    assert stored.model_flagged == (window.panel.result.decision.flagged if window.panel.result.decision.diagnosed
                                    else None)
    window.ilo.reader.setText("Dr Bob")  # another reader sits down while the result is on screen
    window.ilo.identity.name.editingFinished.emit()
    qtbot.waitUntil(lambda: window.result_held and not window.diagnosis_running, timeout=RESULT_TIMEOUT_MS)
    assert window.ilo.blind and window.panel.result is None  # opened again for them, blind
