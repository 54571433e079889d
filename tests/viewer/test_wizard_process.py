"""The fine-tune wizard as a program of its own: the window hears which head became active, and a wizard that
dies is reported, not fatal. A stand-in program plays the wizard (the real one needs a display and torch)."""

from __future__ import annotations

from pathlib import Path

from viewer.wizard_process import HEAD_CHANGED, WizardProcess, head_changed_line


def stand_in(script: str) -> WizardProcess:
    """A WizardProcess that runs ``script`` in place of ``python -m viewer.finetune`` (same plumbing)."""
    return WizardProcess(program=["-c", script])


def test_the_line_names_the_folder_or_the_default() -> None:
    assert head_changed_line(Path("/x/head-2")) == f"{HEAD_CHANGED}\t/x/head-2"
    assert head_changed_line(None) == f"{HEAD_CHANGED}\t"


def test_head_changes_reach_the_window_in_order(qtbot) -> None:
    heard: list[object] = []
    script = ("import sys\n"
              f"sys.stdout.write({head_changed_line(Path('/m/head-a'))!r} + '\\n'); sys.stdout.flush()\n"
              "sys.stdout.write('noise\\n')\n"
              f"sys.stdout.write({head_changed_line(None)!r} + '\\n')\n")
    process = stand_in(script)
    process.head_changed.connect(heard.append)
    with qtbot.waitSignal(process.ended, timeout=30_000) as ended:
        process.start()
    assert heard == ["/m/head-a", None]
    assert ended.args == [""]  # a normal close says nothing
    assert not process.running()


def test_a_wizard_that_dies_is_reported_with_its_last_error_line(qtbot) -> None:
    process = stand_in("import sys\nsys.stderr.write('MemoryError: out of memory\\n')\nsys.exit(3)\n")
    with qtbot.waitSignal(process.ended, timeout=30_000) as ended:
        process.start()
    assert "exit code 3" in ended.args[0] and "out of memory" in ended.args[0]
    assert "unchanged" in ended.args[0]


def test_one_wizard_at_a_time_and_stop_ends_it(qtbot) -> None:
    process = WizardProcess()
    assert process.start()  # the real program: it starts (imports) for a while before its window shows
    try:
        assert process.running()
        assert not process.start()  # a second open is refused; the caller says "already open"
    finally:
        process.stop()
    assert not process.running()
