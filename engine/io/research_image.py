"""MetaImage (.mha/.mhd), NRRD (.nrrd/.nhdr) and NIfTI (.nii/.nii.gz) radiographs and masks, read with SimpleITK.

Research data sets ship chest radiographs and lung masks in these formats. A radiograph is one 2-D grid: a 3-D
file with a single slice is accepted, a volume is refused. Pixels are kept in stored order — numpy (rows,
columns) is ITK's (y, x), the order ``SimpleITK.GetArrayFromImage`` gives — and the direction cosines are not
applied, so the image appears as the file stores it. Values are as stored (NIfTI's scl_slope/scl_inter already
applied by ITK); like PNG, denser is taken to be brighter.

SimpleITK is imported on first read only: the viewer's start-up and ``import engine`` never pay for it.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from engine.errors import DicomReadError, UnsupportedImageError
from engine.io.decoder_chatter import captured
from engine.io.image import ImageMeta, LoadedImage, autocontrast_uint8, check_dimensions

log = logging.getLogger(__name__)

# Lower-case name endings -> (format name for messages, the ITK ImageIO that must read it). The IO is named,
# not guessed from the content, so a file whose content does not match its name fails with a clear message.
_FORMATS: dict[str, tuple[str, str]] = {
    ".mha": ("MetaImage", "MetaImageIO"),
    ".mhd": ("MetaImage", "MetaImageIO"),
    ".nrrd": ("NRRD", "NrrdImageIO"),
    ".nhdr": ("NRRD", "NrrdImageIO"),
    ".nii": ("NIfTI", "NiftiImageIO"),
    ".nii.gz": ("NIfTI", "NiftiImageIO"),
}
RESEARCH_SUFFIXES = frozenset(_FORMATS)
# Headers whose pixels live in a separate file (MetaImage ElementDataFile, NRRD detached data), and the usual
# names of that file.
_DETACHED_HEADER_SUFFIXES = (".mhd", ".nhdr", ".MHD", ".NHDR")
_DETACHED_DATA_SUFFIXES = (".raw.gz", ".raw", ".zraw")
_HEADER_BYTES = 64 * 1024  # a MetaImage or NRRD text header is a few hundred bytes


def research_suffix(path: Path) -> str | None:
    """The research-format ending of ``path`` (``.nii.gz`` counts as one), or None."""
    name = path.name.lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def is_research_file(path: Path) -> bool:
    """MetaImage, NRRD or NIfTI by name (their headers are text or have no fixed magic at byte 0)."""
    return research_suffix(path) is not None


def is_detached_pixel_data(path: Path) -> bool:
    """``x.raw`` / ``x.zraw`` / ``x.raw.gz`` beside ``x.mhd`` or ``x.nhdr``: pixels read through that header, so
    folder scans neither list it as an image nor as a skipped file."""
    name = path.name.lower()
    for suffix in _DETACHED_DATA_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = path.name[: -len(suffix)]
            return any(path.with_name(stem + header).is_file() for header in _DETACHED_HEADER_SUFFIXES)
    return False


def detached_pixel_files(path: Path) -> tuple[Path, ...]:
    """The separate pixel-data file(s) a MetaImage or NRRD header names (``ElementDataFile`` / ``data file``),
    those that exist; () for attached data (``LOCAL``, or no such field), other formats and unreadable headers.
    File-name patterns (``%03d.raw 1 10 1``) name slices of a volume, which is refused anyway, and give ()."""
    suffix = research_suffix(path)
    if suffix is None or _FORMATS[suffix][0] == "NIfTI":
        return ()
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEADER_BYTES).decode("latin-1")
    except OSError:
        return ()
    lines = head.splitlines()
    names: list[str] = []
    for index, line in enumerate(lines):
        if _FORMATS[suffix][0] == "NRRD" and not line.strip():
            break  # a blank line ends a NRRD header; attached data follows
        key, sep, value = line.partition("=" if _FORMATS[suffix][0] == "MetaImage" else ":")
        key = key.strip().lower().replace(" ", "")
        if not sep or key not in ("elementdatafile", "datafile"):
            continue
        value = value.strip()
        if value.upper().startswith("LIST"):
            names = [name.strip() for name in lines[index + 1 :] if name.strip()]
        elif value.upper() != "LOCAL" and "%" not in value:
            names = [value]
        break
    files = (path.parent / name for name in names)
    return tuple(file for file in files if file.is_file() and file != path)


def read_research_image(path: Path) -> LoadedImage:
    """Decode a 2-D MetaImage/NRRD/NIfTI radiograph into a LoadedImage (values as stored, no windowing).

    Raises:
        DicomReadError: the file cannot be read as the format its name says (damaged, truncated, detached
            pixel data missing).
        UnsupportedImageError: readable but not one grey 2-D image (a volume, a vector image, complex or
            non-finite values, an implausible size).
    """
    array, spacing = read_research_array(path)
    from engine.io.raster import to_grey

    array = to_grey(array)
    if array.dtype.kind == "f":
        array = array.astype(np.float32, copy=False)
        if not np.isfinite(array).all():
            raise UnsupportedImageError("The image holds NaN or infinite values — it is not a radiograph's pixels.",
                                        path=path)
    rows, columns = array.shape
    bits = 8 if array.dtype == np.uint8 else 16 if array.dtype in (np.uint16, np.int16) else None
    meta = ImageMeta(path=path, kind="research", rows=rows, columns=columns, bits_stored=bits,
                     pixel_spacing=spacing, photometric="MONOCHROME2", decoder="SimpleITK")
    display = array if array.dtype == np.uint8 else autocontrast_uint8(array)
    return LoadedImage(meta, display, array)


def read_research_array(path: Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """The stored 2-D grid, (H, W) or (H, W, channels), and the pixel spacing in mm (row, column).

    The spacing is None when the file states none: ITK reports 1 x 1 then, which is taken as "not stated".
    Lung masks are read with this too (``training.seg_data``).
    """
    suffix = research_suffix(path)
    if suffix is None:
        raise UnsupportedImageError("Not a MetaImage, NRRD or NIfTI file name (.mha .mhd .nrrd .nhdr .nii .nii.gz).",
                                    path=path)
    name, image_io = _FORMATS[suffix]
    sitk = _simpleitk()
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.SetImageIO(image_io)
    try:
        with captured():  # niftilib prints its complaints to fd 2
            reader.ReadImageInformation()
    except RuntimeError as exc:
        _log_refusal(exc, path)
        raise DicomReadError(f"Not a readable {name} file (unknown content, damaged or truncated header).",
                             path=path) from None
    size = tuple(int(n) for n in reader.GetSize())  # ITK order: x (columns), y (rows), z, ...
    if len(size) < 2:
        raise UnsupportedImageError(f"A {len(size)}-D {name} file — a radiograph is a 2-D image.", path=path)
    slices = int(np.prod(size[2:], dtype=np.int64))
    if slices > 1:
        raise UnsupportedImageError(f"A {name} volume of {slices} slices ({size[0]} x {size[1]} pixels each) — save "
                                    "the radiograph as a single 2-D image.", path=path)
    columns, rows = size[:2]
    check_dimensions(rows, columns, path)
    components = int(reader.GetNumberOfComponents())
    if components not in (1, 2, 3, 4):
        raise UnsupportedImageError(f"A {name} vector image with {components} values per pixel — save the "
                                    "radiograph as a grey image.", path=path)
    damaged = DicomReadError(f"The {name} pixel data could not be read (damaged, truncated, or its separate "
                             "pixel-data file is missing).", path=path)
    if image_io == "NiftiImageIO" and not _nifti_data_complete(path, reader):
        raise damaged
    try:
        with captured():
            image = reader.Execute()
    except RuntimeError as exc:
        _log_refusal(exc, path)
        raise damaged from None
    array = sitk.GetArrayFromImage(image)
    if array.dtype.kind == "c":
        raise UnsupportedImageError(f"A {name} file of complex values — not a radiograph's pixels.", path=path)
    array = array.reshape((rows, columns, components) if components > 1 else (rows, columns))
    return array, _spacing(reader.GetSpacing())


def _nifti_data_complete(path: Path, reader: Any) -> bool:  # reader: SimpleITK.ImageFileReader
    """Whether the file holds every byte its header promises. ITK's NIfTI reader fills a truncated file's
    missing pixels with zeros and says nothing, so a cut-off download would pass as a half-black radiograph."""
    try:
        dims = int(reader.GetMetaData("dim[0]"))
        count = int(np.prod([int(reader.GetMetaData(f"dim[{axis}]")) for axis in range(1, dims + 1)], dtype=np.int64))
        needed = int(float(reader.GetMetaData("vox_offset"))) + count * int(reader.GetMetaData("bitpix")) // 8
    except (RuntimeError, ValueError):  # a header ITK read without these keys: nothing to compare with
        return True
    if not path.name.lower().endswith(".gz"):
        return path.stat().st_size >= needed
    have = 0
    try:
        with gzip.open(path, "rb") as stream:
            while have < needed and (block := stream.read(1 << 20)):
                have += len(block)
    except (OSError, EOFError, zlib.error):  # a cut gzip stream ends in EOFError
        return False
    return have >= needed


def _spacing(itk_spacing: tuple[float, ...]) -> tuple[float, float] | None:
    # Rounded to 1 nm: NIfTI stores float32, so 0.3 comes back as 0.30000001192...
    column, row = (round(float(s), 6) for s in itk_spacing[:2])
    if row <= 0 or column <= 0 or (row, column) == (1.0, 1.0):
        return None
    return row, column


def _log_refusal(exc: RuntimeError, path: Path) -> None:
    # ITK's message names the full path; file names may identify a patient, so it is left out.
    detail = str(exc).replace(str(path), "<file>").strip().splitlines()
    log.info("SimpleITK refused a file: %s", detail[-1] if detail else type(exc).__name__)


@lru_cache(maxsize=1)
def _simpleitk() -> ModuleType:
    import SimpleITK

    # ITK prints its warnings (e.g. a NIfTI header it repaired) to the terminal; the user gets our messages.
    SimpleITK.ProcessObject.SetGlobalWarningDisplay(False)
    return SimpleITK
