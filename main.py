"""Start the PneumoLLM Viewer GUI: ``python main.py [FILE_OR_FOLDER]``."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from viewer.app import main

    sys.exit(main(sys.argv[1:]))
