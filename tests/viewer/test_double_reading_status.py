"""Double reading on the ILO panel: a reading belongs to its reader (name, reader id), a second reader starts blind,
the image's state by the programme's rule (discordant: queued for a third, adjudicating reading)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import PneumoError
from engine.ilo.double_reading import CaseStatus, DiscordanceRule, adjudication_queue, load_rule, save_rule
from engine.ilo.form import IloReading
from engine.ilo.store import ReadingStore, instance_key
from engine.io import LoadedImage, load_image
from tests.dicom_factory import chest_like, make_dicom
from tests.engine.ilo.readings import ABNORMAL, NORMAL, reading
from viewer.discordance_rule_editor import OFF, RuleEditor
from viewer.ilo_panel import IloPanel
from viewer.reader_identity import ReaderFields


@pytest.fixture()
def image(tmp_path: Path) -> LoadedImage:
    return load_image(make_dicom(tmp_path / "film.dcm", chest_like(200, 180), ViewPosition="PA"))


def panel_for(qtbot, store: ReadingStore, name: str, reader_id: str = "") -> IloPanel:
    """A panel (a workstation) with this reader at it, as typed into the reader fields."""
    panel = IloPanel(store)
    qtbot.addWidget(panel)
    panel.reader.setText(name)
    panel.reader_id.setText(reader_id)
    panel.identity.name.editingFinished.emit()  # the reader leaves the field
    return panel


def sign(panel: IloPanel, data: dict):
    panel.form.set_reading(reading(data))
    return panel.sign_and_save()


def test_a_second_reader_starts_blind_and_a_discordance_is_queued(qtbot, image: LoadedImage, tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    alice = panel_for(qtbot, store, "Dr Alice", "B-1001")
    alice.set_image(image)
    assert not alice.blind and alice.double_reading.text() == ""  # nobody has read it: nothing to say
    first = sign(alice, ABNORMAL)  # category 1, pleural findings
    assert first.reader == "Dr Alice" and first.reader_id == "B-1001"
    assert "awaiting a second" in alice.double_reading.text()

    bob = panel_for(qtbot, store, "Dr Bob", "B-2002")
    told: list[bool] = []
    bob.blind_changed.connect(told.append)
    bob.set_image(image)
    assert bob.blind and told == [True]
    assert bob.form.reading() == IloReading() and not bob.form.entered  # Alice's reading is not on the form
    assert bob.report.toPlainText() == "" and bob.stored is None
    assert "Dr Alice" not in bob.history.text() and "hidden" in bob.history.text()
    assert "Blind second reading" in bob.double_reading.text()
    assert not bob.form.parenchymal_yes.property("suggested")  # no model suggestion either
    assert not bob.csv_button.isEnabled()  # the CSV of every reading would hold Alice's
    with pytest.raises(PneumoError, match="blind"):
        bob.export("csv", tmp_path / "all.csv")

    second = sign(bob, NORMAL)  # category 0, no pleural findings: discordant by the default rule
    assert second is not None and second.version == 2 and second.reader_id == "B-2002"
    assert not bob.blind and told[-1] is False and bob.csv_button.isEnabled()
    assert "Dr Alice" in bob.history.text() and "B-1001" in bob.history.text()  # signed: the history shows
    text = bob.double_reading.text()
    assert "(yours is the second reading)" in text and "major category differs (1 vs 0)" in text
    assert "queued for a third, adjudicating reading" in text
    assert [case.instance_key for case in adjudication_queue(store)] == [instance_key(image.meta)]

    carol = panel_for(qtbot, store, "Dr Carol")
    carol.set_image(image)
    assert carol.blind and "Blind third, adjudicating reading: 2 readings" in carol.double_reading.text()
    sign(carol, NORMAL)
    assert not adjudication_queue(store) and "adjudicated" in carol.double_reading.text()


def test_the_form_shows_the_readers_own_reading_and_follows_the_reader(qtbot, image: LoadedImage,
                                                                        tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    sign_first = panel_for(qtbot, store, "Dr Alice", "B-1001")
    sign_first.set_image(image)
    sign(sign_first, ABNORMAL)
    sign_second = panel_for(qtbot, store, "Dr Bob")
    sign_second.set_image(image)
    sign(sign_second, NORMAL)

    panel = panel_for(qtbot, store, "dr  BOB")  # the same reader, however the name is typed
    panel.set_image(image)
    assert not panel.blind and panel.stored.reader == "Dr Bob" and panel.form.reading().parenchymal is False
    panel.reader.setText("Someone else")  # another reader sits down: the open image is now theirs to read blind
    panel.reader_id.setText("b-1001")
    panel.identity.reader_id.editingFinished.emit()
    assert not panel.blind and panel.stored.reader == "Dr Alice"  # the reader id names Alice, whatever the name
    assert panel.form.reading().small.profusion == "1/2"
    panel.reader_id.clear()
    panel.identity.reader_id.editingFinished.emit()
    assert panel.blind and panel.form.reading() == IloReading()


def test_entries_made_before_the_name_is_typed_are_kept(qtbot, image: LoadedImage, tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    panel = panel_for(qtbot, store, "")
    panel.set_image(image)  # nobody has read it: not blind, an empty form
    panel.form.set_reading(reading(ABNORMAL))
    panel.reader.setText("Dr Alice")  # the name typed last, then Tab to the Sign button
    panel.identity.name.editingFinished.emit()
    assert panel.form.reading().small.profusion == "1/2"  # the entries are still there to sign
    assert panel.sign_and_save().reader == "Dr Alice"


def test_the_reader_is_remembered_after_signing(qtbot, image: LoadedImage, tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "r.sqlite")
    panel = panel_for(qtbot, store, "Dr Alice", "B-1001")
    panel.set_image(image)
    sign(panel, NORMAL)
    fields = ReaderFields()
    qtbot.addWidget(fields)
    assert (fields.name.text(), fields.reader_id.text()) == ("Dr Alice", "B-1001")
    restarted = IloPanel(store)  # the next session at this workstation: Alice's own reading, not blind
    qtbot.addWidget(restarted)
    restarted.set_image(image)
    assert not restarted.blind and restarted.stored is not None and restarted.stored.reader == "Dr Alice"


def test_the_rule_set_in_settings_decides_discordance(qtbot, image: LoadedImage, tmp_path: Path) -> None:
    editor = RuleEditor()
    qtbot.addWidget(editor)
    assert editor.rule() == DiscordanceRule() and not editor.save()  # unchanged: no file written
    editor.major.setChecked(False)
    editor.pleural.setChecked(False)
    editor.steps.setValue(OFF)
    assert editor.save() and load_rule() == DiscordanceRule(False, None, False)
    store = ReadingStore(tmp_path / "r.sqlite")
    for name, data in (("Dr Alice", ABNORMAL), ("Dr Bob", NORMAL)):
        panel = panel_for(qtbot, store, name)
        panel.set_image(image)
        sign(panel, data)
    assert "concordant" in panel.double_reading.text() and not adjudication_queue(store, load_rule())
    save_rule(DiscordanceRule(major_category=False, max_subcategory_steps=None, pleural=True))
    panel.set_image(image)
    assert "pleural findings recorded by one reader only" in panel.double_reading.text()
    assert panel.double_reading.view.case.status is CaseStatus.AWAITING_ADJUDICATION


def test_an_unreadable_rule_is_said_and_replaced_by_the_default_on_ok(qtbot, image: LoadedImage,
                                                                       tmp_path: Path) -> None:
    from engine.ilo.double_reading import RULE_FILE
    from engine.paths import data_dir

    (data_dir() / RULE_FILE).parent.mkdir(parents=True, exist_ok=True)
    (data_dir() / RULE_FILE).write_text("{not json", encoding="utf-8")
    panel = panel_for(qtbot, ReadingStore(tmp_path / "r.sqlite"), "Dr Alice")
    panel.set_image(image)  # the image opens; the panel says what is wrong
    assert "not readable JSON" in panel.double_reading.text() and not panel.blind
    editor = RuleEditor()
    qtbot.addWidget(editor)
    assert "not readable JSON" in editor.problem and editor.save() and load_rule() == DiscordanceRule()


def test_the_niosh_form_is_exported_for_the_signed_reading(qtbot, image: LoadedImage, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.ilo import niosh_pdf

    panel = panel_for(qtbot, ReadingStore(tmp_path / "r.sqlite"), "Dr Alice", "B-1001")
    panel.set_image(image)
    assert not panel.niosh_button.isEnabled()  # nothing signed yet
    stored = sign(panel, ABNORMAL)
    assert panel.niosh_button.isEnabled()
    assert panel.export("niosh", tmp_path / "niosh.pdf").read_bytes().startswith(b"%PDF")
    calls: list[tuple] = []
    monkeypatch.setattr(niosh_pdf, "export_niosh_pdf", lambda path, r, **kw: calls.append((r, kw)) or Path(path))
    panel.export("niosh", tmp_path / "again.pdf")
    assert calls == [(stored.reading, {"image_key": stored.instance_key, "reader_id": "B-1001"})]
    assert stored.instance_key.startswith("sop:")  # a hashed key, never the file name or the UID


def test_a_remembered_reader_is_asked_once_before_signing_under_that_name(qtbot, image: LoadedImage,
                                                                           tmp_path: Path) -> None:
    """No login: the workstation fills in the last reader who signed. The first signature under that filled-in name
    asks who is signing; No leaves nothing saved and the name field ready for the real reader's name."""
    from viewer import reader_identity
    from viewer.settings import settings_store

    store = settings_store()
    store.setValue(reader_identity.NAME_KEY, "Dr Remembered")
    store.setValue(reader_identity.ID_KEY, "B-7")
    reader_identity._CONFIRMED.clear()  # a program just started
    readings = ReadingStore(tmp_path / "r.sqlite")
    panel = IloPanel(readings)
    qtbot.addWidget(panel)
    assert panel.reader.text() == "Dr Remembered"
    asked: list[str] = []
    answers = [False, True]
    panel.identity.ask = lambda _parent, who: asked.append(who) or answers.pop(0)
    panel.set_image(image)
    assert sign(panel, NORMAL) is None and readings.history(instance_key(image.meta)) == []
    assert asked == ["Dr Remembered (B-7)"]
    signed = sign(panel, NORMAL)
    assert signed is not None and signed.reader == "Dr Remembered" and len(asked) == 2
    second = IloPanel(readings)  # the next image, same program run: confirmed, not asked again
    qtbot.addWidget(second)
    second.identity.ask = lambda *_: pytest.fail("asked twice in one run")
    assert second.identity.confirm_signer()
    typed = panel_for(qtbot, readings, "Dr Other")  # a reader who typed their own name is never asked
    typed.identity.ask = lambda *_: pytest.fail("a typed name was questioned")
    assert typed.identity.confirm_signer()
