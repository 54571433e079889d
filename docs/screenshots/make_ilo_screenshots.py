"""Render the ILO reading form beside a radiograph, 1600x1000, to the PNGs docs/ilo.md shows:

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_ilo_screenshots.py

No model runs (automatic diagnosis off): the form is the reader's. Uses ../shared/data/dicom/RG1_UNCR.dcm and a
scratch data folder (no reading of yours is shown or saved). Writes next to this script:

The left docks (studies, tags, overlays) are closed for these pictures: with the ILO dock open beside the
diagnosis panel the window needs about 1790 px, wider than the 1600 px screen they are made for.

* ``ilo_form_empty.png`` — the form as it opens: every question unanswered ("—", neither yes nor no), and the
  rules listing what is missing;
* ``ilo_form_missing.png`` — a partly filled reading (quality 1, 2A yes, profusion 1/1, two zones): the rules
  say what is still missing or inconsistent before it can be signed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from shooting import DICOM, HERE, wait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DICOM / "RG1_UNCR.dcm")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["PNEUMOLLM_DATA"] = scratch  # the readings database of a fresh install
        shoot(args.image, args.out)


def shoot(image: Path, out: Path) -> None:
    from PySide6.QtWidgets import QApplication, QScrollArea

    from viewer.main_window import MainWindow
    from viewer.settings import ViewerSettings

    app = QApplication.instance() or QApplication([])

    def no_model(_settings, _progress):
        raise SystemExit("the ILO screenshots run no model")

    settings = ViewerSettings(auto_diagnose=False, deidentified_display=True)
    window = MainWindow(settings=settings, diagnoser_factory=no_model, preload_model=False)
    window.resize(1600, 1000)
    window.show()
    window.open_in_reading_view(image)
    wait(lambda: window.ilo.image is not None, 120)
    window.show_ilo_form()
    for dock in (window.study_dock, window.tag_dock, window.overlay_dock):
        dock.hide()  # with the ILO dock open, the full layout is wider than 1600 px (see the docstring)
    wait(lambda: False, 0.5)
    window.resize(1600, 1000)
    wait(lambda: False, 1.0)
    out.mkdir(parents=True, exist_ok=True)
    form = window.ilo.form
    form.quality_comment.setText(" ")  # touched, then cleared: the rules show what is missing
    form.quality_comment.clear()
    wait(lambda: False, 0.5)
    if (window.width(), window.height()) != (1600, 1000):
        raise SystemExit(f"the window is {window.width()}x{window.height()}, not 1600x1000")
    window.grab().save(str(out / "ilo_form_empty.png"))

    form.quality.setCurrentIndex(form.quality.findData(1))
    form.parenchymal_yes.setChecked(True)
    form.primary.setCurrentIndex(form.primary.findData("q"))
    form.profusion.setCurrentIndex(form.profusion.findData("1/1"))
    for zone in ("right_upper", "left_upper"):
        form.zones[zone].setChecked(True)
    wait(lambda: False, 0.5)  # the form's layout grows with the rules' text first
    bar = window.ilo.findChild(QScrollArea).verticalScrollBar()
    bar.setValue(bar.maximum())  # the rules, under the form
    wait(lambda: False, 0.5)
    window.grab().save(str(out / "ilo_form_missing.png"))
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
