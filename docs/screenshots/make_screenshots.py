"""Render the main window offscreen to the PNGs the README shows:

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_screenshots.py [--head DIR]

Uses the active head (installed, else ``resources/default_head``) unless ``--head`` names one, the shipped lung
segmenter, and the real DICOMs in ../shared/data/dicom. Writes next to this script:

* ``reading_view.png`` — study browser with thumbnails, a MONOCHROME1 CR with lung contour, crop rectangle and
  Grad-CAM overlay, and the filled diagnosis panel (t-SNE map);
* ``attention.png`` — the same case with the emitter-attention tab;
* ``tag_browser.png`` — the DICOM tag dock with identifying tags hidden (the default);
* ``triage_tab.png`` — the Triage tab after a run over the real DICOMs plus ../shared/data/samples (adult
  radiographs: out of the stand-in head's paediatric training domain, which the scores show).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from shooting import DICOM, HERE, ROOT, wait

SAMPLES = ROOT.parent / "shared" / "data" / "samples"


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from engine.diagnoser import Diagnoser
    from viewer.main_window import MainWindow
    from viewer.settings import ViewerSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", type=Path, default=None, help="a trained head folder (default: the active head)")
    parser.add_argument("--folder", type=Path, default=DICOM)
    parser.add_argument("--image", default="RG1_UNCR.dcm")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])

    def factory(settings, progress):
        return Diagnoser(args.head, progress=progress)

    window = MainWindow(settings=ViewerSettings(), diagnoser_factory=factory, preload_model=False)
    window.resize(1600, 1000)
    window.show()
    window.open_path(args.folder)
    wait(lambda: window.studies.paths and window.studies.thumbnail_count() == len(window.studies.paths), 300)
    window.open_in_reading_view(args.folder / args.image)
    # Read-first mode (the default) holds the result back until the reader asks: ask, as a reader would.
    wait(lambda: (window.panel.result is not None or window.result_held or window.panel.anyway_button.isVisible())
         and not window.diagnosis_running, 900)
    if window.panel.result is None and not window.result_held and window.panel.anyway_button.isVisible():
        # The public test films are adults, outside the shipped head's intended use: "Diagnose anyway".
        window.diagnose(True)
        wait(lambda: (window.panel.result is not None or window.result_held) and not window.diagnosis_running, 900)
    window.reveal_result()
    if window.panel.result is None:
        raise SystemExit(f"no result: {window.panel.status.text()}")
    window.overlay_checks["saliency"].setChecked(True)
    wait(lambda: False, 1.0)  # the plots are drawn off the GUI thread (and again once a resize settles)
    wait(lambda: not window.panel.map.busy, 60)
    args.out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out / "reading_view.png"))
    window.panel.tabs.setCurrentIndex(1)
    wait(lambda: False, 1.0)
    wait(lambda: not window.panel.attention.busy, 60)
    window.grab().save(str(args.out / "attention.png"))
    window.tag_dock.raise_()
    wait(lambda: False, 0.5)
    window.grab().save(str(args.out / "tag_browser.png"))
    with tempfile.TemporaryDirectory() as scratch:  # the CSV goes to scratch, not into the shared data
        folder = Path(scratch) / "clinic-inbox"
        shutil.copytree(args.folder, folder / "dicom")
        shutil.copytree(SAMPLES, folder / "samples")
        window.tabs.setCurrentWidget(window.triage_tab)
        window.triage_tab.set_folder(folder, folder.parent / "results.csv")  # not into the user's data folder
        if window.triage_tab.start() is None:
            raise SystemExit(f"triage did not start: {window.triage_tab.status_label.text()}")
        wait(lambda: not window.triage_tab.is_running, 900)
        window.triage_tab.table.clearSelection()
        wait(lambda: False, 0.5)
        window.grab().save(str(args.out / "triage_tab.png"))
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
