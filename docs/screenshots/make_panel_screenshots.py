"""Render the diagnosis panel of a held-back case and of its forced result, 1600x1000, to the PNGs the README
and docs show:

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_panel_screenshots.py [--head DIR]

Uses the active head (installed, else ``resources/default_head``) unless ``--head`` names one, the shipped lung
segmenter and ../shared/data/dicom/RG1_UNCR.dcm: an adult CR, outside the shipped head's paediatric intended use,
so the case is held back. Read-first mode is on (the default). Writes next to this script:

* ``held_back_panel.png`` — "Not diagnosed": the reason, no score and no gauge, and Diagnose anyway;
* ``read_first_held.png`` — after Diagnose anyway, the forced result waits until the reader asks (key A);
* ``forced_result_panel.png`` — the forced result shown: its headline says it was made at the reader's request,
  outside the intended use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shooting import DICOM, HERE, wait


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from engine.diagnoser import Diagnoser
    from viewer.main_window import MainWindow
    from viewer.settings import ViewerSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", type=Path, default=None, help="a trained head folder (default: the active head)")
    parser.add_argument("--image", type=Path, default=DICOM / "RG1_UNCR.dcm")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])

    def factory(settings, progress):
        return Diagnoser(args.head, progress=progress)

    def save(name: str) -> None:
        wait(lambda: False, 1.0)  # plots are drawn off the GUI thread
        window.grab().save(str(args.out / name))
        sys.stdout.write(f"wrote {args.out / name}\n")

    window = MainWindow(settings=ViewerSettings(read_first=True, deidentified_display=True),
                        diagnoser_factory=factory, preload_model=False)
    window.resize(1600, 1000)
    window.show()
    window.open_path(args.image)
    panel = window.panel
    wait(lambda: (panel.anyway_button.isVisible() or window.result_held or panel.result is not None)
         and not window.diagnosis_running, 900)
    if not panel.anyway_button.isVisible():
        raise SystemExit(f"the case was not held back: {panel.headline.text()} / {panel.status.text()}")
    args.out.mkdir(parents=True, exist_ok=True)
    save("held_back_panel.png")
    panel.anyway_button.click()  # the reader asks for a verdict
    wait(lambda: window.result_held and not window.diagnosis_running, 900)
    save("read_first_held.png")
    window.reveal_result()  # key A
    if panel.result is None:
        raise SystemExit(f"no forced result: {panel.status.text()}")
    wait(lambda: not panel.map.busy, 60)
    save("forced_result_panel.png")
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
