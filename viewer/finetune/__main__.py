"""The fine-tune wizard as a program of its own: ``python -m viewer.finetune [--vision-weights DIR] [--llm-path DIR]``.

The viewer starts it this way so the window's process never imports torch (training needs it); the wizard tells
the viewer which head became active with one line on stdout, ``head-changed<TAB>FOLDER`` (empty: back to the
shipped default), which ``viewer.wizard_process.WizardProcess`` reads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from viewer.wizard_process import head_changed_line


def _tell_viewer(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()  # the viewer reads it at once, not when the buffer fills


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m viewer.finetune", description="Fine-tune a new head.")
    parser.add_argument("--vision-weights", default="", help="a local CLIP ViT-L/14 folder (optional)")
    parser.add_argument("--llm-path", default="", help="a local LLaMA-family folder (optional)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from viewer.app import ICON
    from viewer.finetune.wizard import FinetuneWizard
    from viewer.settings import APPLICATION, ORGANISATION

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APPLICATION)  # the same settings store as the viewer's
    app.setOrganizationName(ORGANISATION)
    if ICON.exists():
        app.setWindowIcon(QIcon(str(ICON)))
    wizard = FinetuneWizard(None, vision_weights=args.vision_weights or None, llm_path=args.llm_path or None)
    wizard.head_changed.connect(lambda folder: _tell_viewer(head_changed_line(folder)))
    wizard.finished.connect(lambda _code: app.quit())
    wizard.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
