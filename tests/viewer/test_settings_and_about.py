"""Settings (QSettings round trip, paths validated with the engine's checks) and the About box."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings

from engine.model.head_card import load_head_card
from tests.head_factory import make_tiny_head
from viewer.about import DISCLAIMER, AboutDialog, about_html
from viewer.error_dialog import message_for
from viewer.settings import APPLICATION, CUSTOM, ORGANISATION, SettingsDialog, ViewerSettings


def test_settings_round_trip_under_the_app_names(tmp_path: Path) -> None:
    settings = ViewerSettings(profile="full", vision_weights="/w/clip.pt", llm_path="/w/llama", device="cpu",
                              threshold_override=0.42, auto_diagnose=False)
    settings.save()
    store = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)
    assert store.value("model/device") == "cpu"
    assert str(tmp_path) in store.fileName(), "tests must never touch the user's real settings"
    assert ViewerSettings.load() == settings
    assert settings.model_differs(ViewerSettings()) and not settings.model_differs(settings.copy())


def test_dialog_names_wrong_paths_with_the_engine_messages(qtbot, tmp_path: Path) -> None:
    settings = ViewerSettings()
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.vision.setText(str(tmp_path / "missing.pt"))
    not_llama = tmp_path / "gpt2"
    not_llama.mkdir()
    (not_llama / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    dialog.llm.setText(str(not_llama))
    assert not dialog.threshold.isEnabled(), "the threshold box is for a threshold of the reader's own"
    dialog.point.setCurrentIndex(dialog.point.findData(CUSTOM))
    dialog.threshold.setText("1.7")
    problems = dialog.validate()
    assert "CLIP checkpoint not found" in problems and "not a LLaMA-family" in problems
    assert "between 0 and 1" in problems and "CLIP checkpoint not found" in dialog.message.text()
    dialog._accept()
    assert settings == ViewerSettings(), "invalid settings must not be applied"
    dialog.vision.setText("")
    dialog.llm.setText("")
    dialog.threshold.setText("0.3")
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog._accept()
    assert settings.threshold_override == 0.3 and settings.device == "cpu"


def test_about_names_the_model_its_data_and_metrics(qtbot, tiny_head: Path, tmp_path: Path) -> None:
    (tmp_path / "MODEL_CARD.md").write_text("# Model card\nTrained on a stand-in set.")
    card = replace(load_head_card(tiny_head), stand_in_note="A stand-in head, not a pneumoconiosis detector.",
                   model_card="MODEL_CARD.md",
                   metrics={"cross_validation": {"auc": {"mean": 91.2, "std": 1.5},
                                                 "sensitivity": {"mean": 88.0, "std": 2.0}},
                            "cross_validation_folds": 5, "validation": {"auc": 93.0, "accuracy": 90.5}})
    text = about_html(card, folder=tmp_path)
    for needle in (DISCLAIMER, "tiny-test", card.model_id, "normal, abnormal", "stand-in head",
                   "random weights for tests", "91.2 ± 1.5", "5 folds", "93.0", "Trained on a stand-in set"):
        assert needle in text, needle
    dialog = AboutDialog(None, card, folder=tmp_path)
    qtbot.addWidget(dialog)
    assert "stand-in head" in dialog.text.toPlainText()
    missing = about_html(None, "No trained head is installed — train one.")
    assert "No trained head" in missing and DISCLAIMER in missing


def test_error_sink_shows_user_messages_and_hides_internals(caplog) -> None:
    from engine.errors import DicomReadError

    assert message_for(DicomReadError(path="/x/scan.dcm")).startswith("scan.dcm: Not a readable DICOM")
    text = message_for(KeyError("internal detail"))
    assert "internal detail" not in text and "KeyError" in text
    assert "internal detail" in caplog.text  # the traceback goes to the log


def test_the_dialog_offers_the_heads_operating_points(qtbot, tmp_path: Path) -> None:
    card = load_head_card(make_tiny_head(tmp_path / "head", with_map=False))
    points = {"youden": {"threshold": 0.41, "sensitivity": 90.0, "specificity": 80.0},
              "sensitivity:0.95": {"threshold": 0.22, "sensitivity": 95.5, "specificity": 61.0}}
    settings = ViewerSettings(threshold_override=0.3)
    dialog = SettingsDialog(settings, card=replace(card, operating_points=points))
    qtbot.addWidget(dialog)
    labels = [dialog.point.itemText(i) for i in range(dialog.point.count())]
    assert "threshold 0.500" in labels[0] and "sensitivity 95% or more — threshold 0.220" in labels[2]
    assert dialog.point.currentData() == CUSTOM and dialog.threshold.isEnabled()
    dialog.point.setCurrentIndex(dialog.point.findData("sensitivity:0.95"))
    dialog._accept()
    assert settings.operating_point == "sensitivity:0.95" and settings.threshold_override is None
    settings.save()
    assert ViewerSettings.load().operating_point == "sensitivity:0.95"
