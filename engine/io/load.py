"""One entry point for every image the app opens: ``load_image(path)`` picks the reader by content (and, for
the research formats whose headers have no magic number at the start, by name)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import DicomReadError, UnsupportedImageError
from engine.io.image import LoadedImage
from engine.io.research_image import is_research_file

RASTER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ""})


_RASTER_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")


def is_raster_file(path: Path) -> bool:
    """PNG, JPEG or TIFF by content, whatever the name says (a PNG saved as .dcm is still a PNG). A DICOM
    file may carry a TIFF header in its preamble (dual-format files): the DICM marker wins."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return head.startswith(_RASTER_MAGIC) and head[128:132] != b"DICM"


def is_dicom_file(path: Path) -> bool:
    """DICOM Part 10 files carry "DICM" at byte 128; we also accept .dcm files without a preamble."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    if head[128:132] == b"DICM":
        return True
    return path.suffix.lower() in (".dcm", ".dicom", ".dic")


def load_image(path: str | Path) -> LoadedImage:
    """Decode a DICOM, PNG, JPEG, TIFF, MetaImage, NRRD or NIfTI radiograph; files are only ever opened for reading.

    Raises:
        DicomReadError: corrupt, truncated or non-DICOM file, missing pixel data.
        UnsupportedImageError: readable but unusable (multi-frame, colour DICOM, a 3-D volume, absurd size, ...).
    """
    return _load(Path(path), None)


def load_for_model(path: str | Path, min_side: int, *, max_factor: int = 8) -> LoadedImage:
    """``load_image`` for the model path only: decoded at 1/2, 1/4 or 1/8 of the stored size where that keeps the
    shorter side >= ``min_side`` and the factor <= ``max_factor`` (``engine.io.reduced``; ``LoadedImage.reduction``
    says by how much), with the same header and damaged-data checks and the same errors. Never for the screen,
    which needs every pixel."""
    return _load(Path(path), max(1, int(min_side)), max_factor)


def _load(path: Path, model_side: int | None, max_factor: int = 1) -> LoadedImage:
    if path.is_symlink() and not path.exists():
        raise DicomReadError("A symbolic link that leads nowhere (broken, or pointing to itself).", path=path)
    if not path.exists():
        raise DicomReadError("File not found — it may have been moved or deleted.", path=path)
    if path.is_dir():
        raise UnsupportedImageError("This is a folder — open it as a study folder instead.", path=path)
    if is_research_file(path) and not is_dicom_file(path) and not is_raster_file(path):
        from engine.io.research_image import read_research_image

        return read_research_image(path)
    if (path.suffix.lower() in RASTER_SUFFIXES and not is_dicom_file(path)) or is_raster_file(path):
        from engine.io.raster import read_raster

        return read_raster(path, model_side=model_side, max_factor=max_factor)
    from engine.io.dicom import read_dicom

    return read_dicom(path, model_side=model_side, max_factor=max_factor)
