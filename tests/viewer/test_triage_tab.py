"""The triage tab: rows arrive live, sort by probability, filter, cancel keeps rows, a re-run resumes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from engine.diagnoser import Diagnoser
from engine.progress import Progress
from engine.triage import default_results_path, iter_rows, journal_path
from tests.viewer.helpers import (
    GatedDiagnoser,
    in_process,
    isolate_user_folders,
    make_triage_folder,
    save_screenshot,
    tiny_diagnoser,
)
from viewer.triage_tab import PROBABILITY, TriageTab

TOTAL = 7  # make_triage_folder(good=5): 5 DICOMs + 1 PNG + 1 broken file


@pytest.fixture(autouse=True)
def _private_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_folders(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def diagnoser(tmp_path_factory: pytest.TempPathFactory) -> Diagnoser:
    return tiny_diagnoser(tmp_path_factory.mktemp("triage-head"), threshold=0.6)  # random head: scores near 0.6


def wait_idle(qtbot, tab: TriageTab, timeout: int = 120_000) -> None:
    qtbot.waitUntil(lambda: not tab.is_running, timeout=timeout)


def test_rows_sort_filter_and_open(qtbot, diagnoser: Diagnoser, tmp_path: Path) -> None:
    folder = make_triage_folder(tmp_path / "in")
    calls = []

    def factory() -> Diagnoser:
        calls.append(threading.current_thread() is threading.main_thread())
        return diagnoser

    tab = TriageTab(in_process(factory), batch_size=3)
    qtbot.addWidget(tab)
    tab.resize(980, 520)
    tab.show()
    tab.set_folder(folder)
    # The results go to the user's data folder, never into the (often read-only) image folder.
    assert Path(tab.csv_edit.text()) == default_results_path(folder)
    assert Path(tab.csv_edit.text()).is_relative_to(tmp_path / "user-data") and folder not in Path(
        tab.csv_edit.text()).parents
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(tab.rows().__len__()))
    timer.start(20)
    arrivals = []
    tab.model.rowsInserted.connect(lambda *_: arrivals.append(tab.model.rowCount()))
    with qtbot.waitSignal(tab.triage_finished, timeout=120_000) as finished:
        assert tab.start() is not None
        assert tab.start() is None  # a second click while running does nothing
    timer.stop()
    summary = finished.args[0]
    assert summary.total == TOTAL and summary.unreadable == 1
    assert calls == [False]  # the factory ran once per run, in the worker, never on the GUI thread
    assert len(ticks) >= 5, "the GUI event loop stalled during triage"
    assert arrivals and arrivals[0] < TOTAL, "rows should arrive batch by batch, not all at the end"
    assert any(0 < n < TOTAL for n in ticks), "the table did not fill while the run was going"

    rows = tab.visible_rows()
    assert len(rows) == len(tab.rows()) == TOTAL
    scored = [r.probability for r in rows if r.probability is not None]
    assert scored == sorted(scored, reverse=True)  # highest first by default
    assert all(r.probability is None for r in rows[len(scored):])  # unscored rows after the scored ones
    assert tab.table.horizontalHeader().sortIndicatorSection() == PROBABILITY
    tab.table.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)
    ascending = [r.probability for r in tab.visible_rows() if r.probability is not None]
    assert ascending == sorted(ascending)
    tab.table.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)

    counts = tab.model.counts()
    assert "unreadable" in tab.summary_label.text() and f"{TOTAL} images" in tab.summary_label.text()
    for index, expected in enumerate((TOTAL, counts["flagged"], counts["not flagged"], counts["not diagnosed"],
                                      counts["unreadable"])):
        tab.decision_combo.setCurrentIndex(index)
        assert len(tab.visible_rows()) == expected
    tab.decision_combo.setCurrentIndex(4)
    assert [Path(r.file).name for r in tab.visible_rows()] == ["broken.dcm"]
    assert "showing 1" in tab.summary_label.text()
    tab.decision_combo.setCurrentIndex(0)
    tab.filter_edit.setText("PNG")
    assert [r.file for r in tab.visible_rows()] == ["chest.png"]
    tab.filter_edit.setText("")
    assert len(tab.visible_rows()) == TOTAL  # the default view hides no case

    index = tab.proxy.index(0, 0)
    with qtbot.waitSignal(tab.open_image_requested, timeout=5000) as opened:
        tab.table.scrollTo(index)
        centre = tab.table.visualRect(index).center()
        qtbot.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a real double-click
        qtbot.mouseDClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # starts with a press
    path = opened.args[0]
    assert path.is_absolute() and path.exists() and path == (folder / tab.visible_rows()[0].file).resolve()

    tab.decision_combo.setCurrentIndex(0)
    tab.table.clearSelection()
    save_screenshot(tab, tmp_path / "triage_tab.png")


def test_cancel_keeps_rows_and_a_second_run_resumes(qtbot, diagnoser: Diagnoser, tmp_path: Path) -> None:
    folder = make_triage_folder(tmp_path / "in")
    gated = GatedDiagnoser(diagnoser, gate_after=1)
    tab = TriageTab(in_process(lambda: gated), batch_size=2)
    qtbot.addWidget(tab)
    tab.set_folder(folder)

    def first_rows(*_args: object) -> None:
        tab.cancel()
        gated.gate.set()  # the flag is set before the worker can reach the next batch

    tab.model.rowsInserted.connect(first_rows)
    tab.start()
    wait_idle(qtbot, tab)
    tab.model.rowsInserted.disconnect(first_rows)
    kept = len(tab.rows())
    assert 0 < kept < TOTAL
    assert "Cancelled" in tab.status_label.text()
    assert tab.progress_bar.value() == kept and tab.progress_bar.maximum() == TOTAL  # not back to 0 %
    out = default_results_path(folder)
    assert journal_path(out).exists() and not out.exists()

    reports: list[Progress] = []
    shown = tab._on_progress
    tab._on_progress = lambda message: (reports.append(message[1]) if message[0] == "progress" else None,
                                        shown(message))  # type: ignore[method-assign]
    with qtbot.waitSignal(tab.triage_finished, timeout=120_000) as finished:
        tab.start()
        assert len(tab.rows()) == kept  # the finished rows are shown again at once
    summary = finished.args[0]
    assert summary.skipped_existing == kept and summary.total == TOTAL
    assert reports and all(report.carried == kept for report in reports)  # the pace counts this run's files only
    files = [r.file for r in tab.rows()]
    assert len(files) == len(set(files)) == TOTAL
    assert sorted(files) == sorted(r.file for r in iter_rows(out))
    assert not journal_path(out).exists()


def test_bad_folder_is_reported_not_raised(qtbot, tmp_path: Path) -> None:
    tab = TriageTab(in_process(lambda: pytest.fail("the model must not load for a missing folder")))
    qtbot.addWidget(tab)
    assert tab.start() is None and "Choose a folder" in tab.status_label.text()
    tab.set_folder(tmp_path / "missing")
    assert tab.start() is None and "not a folder" in tab.status_label.text()


def test_the_note_carries_the_shared_research_use_wording(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tab words its note with engine.notices.RESEARCH_USE, not a copy: a new wording reaches it."""
    from PySide6.QtWidgets import QLabel

    import viewer.triage_tab as triage_tab

    monkeypatch.setattr(triage_tab, "RESEARCH_USE", "reworded notice for the test")
    tab = TriageTab(in_process(lambda: pytest.fail("the model must not load to build the tab")))
    qtbot.addWidget(tab)
    notes = [label.text() for label in tab.findChildren(QLabel) if "every case still needs a reader" in label.text()]
    assert len(notes) == 1 and notes[0].startswith("Reworded notice for the test: ")
