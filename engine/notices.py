"""The words every output of the product carries about what it is (one wording, imported everywhere)."""

from __future__ import annotations

RESEARCH_USE = "research software, not for diagnostic use"  # window titles, the splash, the CLI's help
DISCLAIMER = "Not for diagnostic use - research software. The result must be reviewed by a qualified reader."
MANUFACTURER = "PneumoLLM Viewer (research software)"  # DICOM Manufacturer of every object written
RESULT_SERIES = "PneumoLLM result (not for diagnosis)"  # DICOM Series Description of result objects
