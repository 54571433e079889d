"""Every error the engine raises.

Each carries a one-line ``user_message`` that says what happened and what the user can do next; the GUI
and CLI show only that line, tracebacks go to the log. Messages never contain patient-identifying values.
"""

from __future__ import annotations

from pathlib import Path


class PneumoError(Exception):
    """Base class: a failure the user can understand and act on."""

    default_message = "Something went wrong."

    def __init__(self, message: str | None = None, *, path: str | Path | None = None) -> None:
        lines = (message or self.default_message).strip().splitlines()
        self.user_message = lines[0] if lines else self.default_message
        self.path = Path(path) if path is not None else None
        super().__init__(self.user_message)

    def one_line(self) -> str:
        """The message with the file name (not the full path) in front, for lists and the CLI."""
        if self.path is None:
            return self.user_message
        return f"{self.path.name}: {self.user_message}"


class DicomReadError(PneumoError):
    """The file could not be read as a DICOM image (corrupt, truncated, not DICOM, no pixel data)."""

    default_message = "Not a readable DICOM image — open a .dcm export of the radiograph."


class UnsupportedImageError(PneumoError):
    """The file is readable but is not something we can diagnose (wrong modality, multi-frame, ...).

    ``flags`` holds the ``engine.flags.Flag`` codes that stopped it, when there are any: the viewer offers
    "Diagnose anyway" only when every one of them is a REVIEW flag.
    """

    default_message = "This file is not a single-frame chest radiograph."

    def __init__(self, message: str | None = None, *, path: str | Path | None = None, flags: tuple = ()) -> None:
        super().__init__(message, path=path)
        self.flags = tuple(flags)


class SegmentationError(PneumoError):
    """Lung segmentation could not run (missing weights, unusable image)."""

    default_message = "Lung segmentation failed."


class ModelLoadError(PneumoError):
    """Model weights or a checkpoint are missing, damaged or belong to another backbone."""

    default_message = "The model could not be loaded — check the model files in Settings."


class ProfileError(PneumoError):
    """An unknown or misconfigured model profile."""

    default_message = "Unknown model profile."


class TrainingError(PneumoError):
    """Training data or settings that cannot produce a model."""

    default_message = "Training could not start."


class Cancelled(PneumoError):
    """The user cancelled a long-running job."""

    default_message = "Cancelled."
