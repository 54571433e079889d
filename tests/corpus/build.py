"""Build the corpus of broken and odd inputs a hostile or unlucky clinic would produce.

``python -m tests.corpus.build OUT`` writes every entry into OUT (nothing large is committed: each entry is
made from the real files in ``../shared/data``). Each entry says what a correct program does with it:

* ``refused``       - unreadable: a typed ``PneumoError`` with a one-line message, nothing diagnosed;
* ``not_diagnosed`` - readable but unsuitable: refused at load or "not diagnosed", with the reason;
* ``diagnosed``     - a usable radiograph (odd but legal encodings) gets a probability.

``benchmarks/corpus_table.py`` runs the corpus through the CLI with the shipped model and prints the table
in the README's reliability section; ``tests/corpus/test_corpus.py`` runs it through the engine's API.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
)

REFUSED = "refused"
NOT_DIAGNOSED = "not_diagnosed"
DIAGNOSED = "diagnosed"


@dataclass(frozen=True)
class Entry:
    name: str  # the file (or link, or folder) name inside the corpus folder
    expect: str  # REFUSED | NOT_DIAGNOSED | DIAGNOSED
    what: str  # one line: how it was made
    make: Callable[[Path, Path], None]  # (data folder, target path)


def _dicom(data: Path, name: str = "RG1_UNCR.dcm") -> pydicom.Dataset:
    return pydicom.dcmread(data / "dicom" / name)


def _small(ds: pydicom.Dataset, side: int = 512) -> pydicom.Dataset:
    """The same radiograph, subsampled to about ``side`` px (keeps the corpus small and fast)."""
    pixels = ds.pixel_array
    step = max(1, max(pixels.shape) // side)
    small = np.ascontiguousarray(pixels[::step, ::step])
    ds.Rows, ds.Columns = small.shape
    ds.PixelData = small.tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _save(ds: pydicom.Dataset, target: Path, *, preamble: bool = True) -> None:
    if preamble:
        ds.save_as(target, enforce_file_format=True)
        return
    # A bare data set: no 128-byte preamble, no "DICM", no file meta group, implicit VR.
    del ds.file_meta
    raw = io.BytesIO()
    pydicom.dcmwrite(raw, ds, enforce_file_format=False, implicit_vr=True, little_endian=True)
    target.write_bytes(raw.getvalue())


def _copy(source: str) -> Callable[[Path, Path], None]:
    def make(data: Path, target: Path) -> None:
        target.write_bytes((data / source).read_bytes())
    return make


def _truncate(source: str, fraction: float) -> Callable[[Path, Path], None]:
    def make(data: Path, target: Path) -> None:
        raw = (data / source).read_bytes()
        target.write_bytes(raw[: int(len(raw) * fraction)])
    return make


def _damage(source: str, at: float, length: int, *, seed: int = 7) -> Callable[[Path, Path], None]:
    """Overwrite ``length`` bytes at ``at`` (fraction of the file) with noise: a bad sector, a torn copy."""
    def make(data: Path, target: Path) -> None:
        raw = bytearray((data / source).read_bytes())
        start = int(len(raw) * at)
        raw[start : start + length] = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
        target.write_bytes(bytes(raw))
    return make


def _edit(change: Callable[[pydicom.Dataset], object], *, small: bool = True, source: str = "RG1_UNCR.dcm",
          preamble: bool = True) -> Callable[[Path, Path], None]:
    def make(data: Path, target: Path) -> None:
        ds = _dicom(data, source)
        if small:
            ds = _small(ds)
        change(ds)
        _save(ds, target, preamble=preamble)
    return make


def _set(**attributes: object) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        for keyword, value in attributes.items():
            if value is None:
                if keyword in ds:
                    delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
    return change


def _pixels(fill: Callable[[np.ndarray], np.ndarray]) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        pixels = fill(ds.pixel_array.copy())
        ds.Rows, ds.Columns = pixels.shape[:2]
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    return change


def _j2k_siz(data: Path, target: Path) -> None:
    """The J2K SIZ marker segment's image size fields overwritten: the header says one size, the codestream
    another."""
    raw = bytearray((data / "dicom" / "RG1_J2KR.dcm").read_bytes())
    siz = raw.find(b"\xff\x4f\xff\x51")
    raw[siz + 8 : siz + 16] = b"\x7f\xff\xff\xff\x7f\xff\xff\xff"
    target.write_bytes(bytes(raw))


def _j2k_codestream_damage(fraction: float) -> Callable[[Path, Path], None]:
    """Noise in the middle of the J2K codestream (past the main header): block artefacts, no decoder error."""
    def make(data: Path, target: Path) -> None:
        raw = bytearray((data / "dicom" / "RG1_J2KR.dcm").read_bytes())
        start = raw.find(b"\xff\x4f\xff\x51")
        at = start + int((len(raw) - start) * fraction)
        raw[at : at + 4096] = np.random.default_rng(11).integers(0, 256, 4096, dtype=np.uint8).tobytes()
        target.write_bytes(bytes(raw))
    return make


def _jpeg_dicom(*, damage: str | None = None) -> Callable[[Path, Path], None]:
    """A real radiograph JPEG encapsulated as a JPEG Baseline DICOM (how many CR exports look)."""
    def make(data: Path, target: Path) -> None:
        with Image.open(data / "samples" / "16747_3_1.jpg") as image:
            grey = image.convert("L")
            buffer = io.BytesIO()
            grey.save(buffer, format="JPEG", quality=92)
            rows, columns = grey.height, grey.width
        frame = bytearray(buffer.getvalue())
        if damage == "header":  # the SOF0 segment's size fields overwritten
            sof = frame.find(b"\xff\xc0")
            frame[sof + 5 : sof + 9] = b"\x00\x00\x00\x00"
        elif damage == "truncated":
            frame = frame[: len(frame) // 2]
        elif damage == "middle":
            mid = len(frame) // 2
            frame[mid : mid + 512] = np.random.default_rng(5).integers(0, 256, 512, dtype=np.uint8).tobytes()
        ds = _dicom(data)
        del ds.PixelData
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PhotometricInterpretation = "MONOCHROME2"
        for keyword in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.PixelData = encapsulate([bytes(frame)])
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        ds.save_as(target, enforce_file_format=True)
    return make


def _random_htj2k(data: Path, target: Path) -> None:
    ds = _dicom(data)
    ds = _small(ds)
    del ds.PixelData
    ds.file_meta.TransferSyntaxUID = HTJ2KLossless
    noise = np.random.default_rng(3).integers(0, 256, 40_000, dtype=np.uint8).tobytes()
    ds.PixelData = encapsulate([noise])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.save_as(target, enforce_file_format=True)


def _rle(data: Path, target: Path) -> None:
    ds = _small(_dicom(data))
    ds.compress(RLELossless)
    ds.save_as(target, enforce_file_format=True)


def _implicit(data: Path, target: Path) -> None:
    ds = _small(_dicom(data))
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(target, enforce_file_format=True, implicit_vr=True, little_endian=True)


def _png(transform: Callable[[np.ndarray], np.ndarray] | None = None, *, source: str = "samples/h0001.png",
         mode: str | None = None) -> Callable[[Path, Path], None]:
    def make(data: Path, target: Path) -> None:
        with Image.open(data / source) as image:
            array = np.asarray(image.convert("L"))
        if transform is not None:
            array = transform(array)
        image = Image.fromarray(array)
        if mode is not None:
            image = image.convert(mode)
        image.save(target)
    return make


def _png16(data: Path, target: Path) -> None:
    with Image.open(data / "samples" / "h0001.png") as image:
        array = np.asarray(image.convert("L")).astype(np.uint16) * 257
    Image.fromarray(array).save(target)


def _multipage_tiff(data: Path, target: Path) -> None:
    import tifffile

    with Image.open(data / "samples" / "h0001.png") as image:
        array = np.asarray(image.convert("L"))
    tifffile.imwrite(target, np.stack([array, array[::-1], array[:, ::-1]]), photometric="minisblack")


def _text(content: bytes) -> Callable[[Path, Path], None]:
    def make(data: Path, target: Path) -> None:
        target.write_bytes(content)
    return make


def _symlink_loop(data: Path, target: Path) -> None:
    os.symlink(target.name, target)


def _broken_link(data: Path, target: Path) -> None:
    os.symlink("no-such-file.dcm", target)


def _folder(data: Path, target: Path) -> None:
    target.mkdir()


def _unreadable(data: Path, target: Path) -> None:
    target.write_bytes((data / "samples" / "h0001.png").read_bytes())
    target.chmod(0)


def _palette(ds: pydicom.Dataset) -> None:
    ds.PhotometricInterpretation = "PALETTE COLOR"
    pixels = (ds.pixel_array >> 8).astype(np.uint8) if ds.BitsAllocated == 16 else ds.pixel_array
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    for keyword in ("WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)


def _ybr_label(ds: pydicom.Dataset) -> None:
    ds.PhotometricInterpretation = "YBR_FULL"


def _header_rows(ds: pydicom.Dataset) -> None:
    ds.Rows = ds.Rows + 100  # more rows than the pixel data holds


def _fewer_rows(ds: pydicom.Dataset) -> None:
    ds.Rows = ds.Rows // 2  # the header claims half the image; the rest is trailing data


def _no_rows(ds: pydicom.Dataset) -> None:
    del ds.Rows


def _huge(ds: pydicom.Dataset) -> None:
    ds.Rows, ds.Columns = 60000, 60000


def _multiframe(ds: pydicom.Dataset) -> None:
    frame = ds.PixelData
    ds.NumberOfFrames = 3
    ds.PixelData = frame * 3


def _float_pixels(ds: pydicom.Dataset) -> None:
    pixels = ds.pixel_array.astype(np.float32)
    del ds.PixelData
    for keyword in ("BitsStored", "HighBit", "PixelRepresentation", "RescaleSlope", "RescaleIntercept"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.BitsAllocated = 32
    ds.FloatPixelData = pixels.tobytes()


ENTRIES: tuple[Entry, ...] = (
    # Legal, usable radiographs in odd encodings: each must be diagnosed.
    Entry("ok_uncompressed.dcm", DIAGNOSED, "the real RG1 CR DICOM, uncompressed", _copy("dicom/RG1_UNCR.dcm")),
    Entry("ok_j2k_lossless.dcm", DIAGNOSED, "the real RG1 CR DICOM, JPEG 2000 lossless", _copy("dicom/RG1_J2KR.dcm")),
    Entry("ok_j2k_lossy.dcm", DIAGNOSED, "the real RG1 CR DICOM, JPEG 2000 lossy", _copy("dicom/RG1_J2KI.dcm")),
    Entry("ok_monochrome1.dcm", DIAGNOSED, "MONOCHROME1 with inverted pixels (same anatomy)",
          _edit(lambda ds: (_set(PhotometricInterpretation="MONOCHROME1")(ds),
                            _pixels(lambda p: (p.max() - p).astype(p.dtype))(ds)))),
    Entry("ok_no_preamble.dcm", DIAGNOSED, "a bare data set: no preamble, no DICM marker, implicit VR",
          _edit(lambda ds: None, preamble=False)),
    Entry("ok_no_preamble_mono1.dcm", DIAGNOSED, "no preamble and MONOCHROME1 (read by the fallback path)",
          _edit(lambda ds: (_set(PhotometricInterpretation="MONOCHROME1")(ds),
                            _pixels(lambda p: (p.max() - p).astype(p.dtype))(ds)), preamble=False)),
    Entry("ok_implicit_vr.dcm", DIAGNOSED, "implicit VR little endian", _implicit),
    Entry("ok_rle.dcm", DIAGNOSED, "RLE lossless", _rle),
    Entry("ok_jpeg_baseline.dcm", DIAGNOSED, "a JPEG baseline DICOM made from a real radiograph", _jpeg_dicom()),
    Entry("ok_rescale.dcm", DIAGNOSED, "rescale slope 2, intercept -1024",
          _edit(_set(RescaleSlope=2, RescaleIntercept=-1024))),
    Entry("ok_no_window.dcm", DIAGNOSED, "no window in the header",
          _edit(_set(WindowCenter=None, WindowWidth=None))),
    Entry("ok_bad_window.dcm", DIAGNOSED, "window width 0 (ignored)", _edit(_set(WindowWidth=0))),
    Entry("ok_no_modality.dcm", DIAGNOSED, "no Modality element", _edit(_set(Modality=None))),
    Entry("ok_png.png", DIAGNOSED, "a JSRT PNG", _copy("samples/h0001.png")),
    Entry("ok_png16.png", DIAGNOSED, "16-bit grey PNG", _png16),
    Entry("ok_jpeg.jpg", DIAGNOSED, "a paediatric JPEG", _copy("samples/16747_3_1.jpg")),
    Entry("ok_rgb.png", DIAGNOSED, "grey stored as RGB", _png(mode="RGB")),
    Entry("ok_palette.png", DIAGNOSED, "palette PNG of a grey radiograph", _png(mode="P")),
    Entry("ok_png_as_dcm.dcm", DIAGNOSED, "a PNG named .dcm", _copy("samples/h0001.png")),
    Entry("ok_upper_case.PNG", DIAGNOSED, "upper-case suffix", _copy("samples/h0001.png")),
    Entry("ok_tiff.tif", DIAGNOSED, "a grey TIFF", _png(source="samples/h0001.png")),
    # Readable but unsuitable: not diagnosed (or refused at load), with the reason.
    Entry("unsuitable_ct.dcm", NOT_DIAGNOSED, "Modality CT", _edit(_set(Modality="CT"))),
    Entry("unsuitable_lateral.dcm", NOT_DIAGNOSED, "ViewPosition LL", _edit(_set(ViewPosition="LL"))),
    Entry("unsuitable_knee.dcm", NOT_DIAGNOSED, "BodyPartExamined KNEE", _edit(_set(BodyPartExamined="KNEE"))),
    Entry("unsuitable_multiframe.dcm", NOT_DIAGNOSED, "three frames", _edit(_multiframe)),
    Entry("unsuitable_black.dcm", NOT_DIAGNOSED, "every pixel 0", _edit(_pixels(lambda p: np.zeros_like(p)))),
    Entry("unsuitable_white.dcm", NOT_DIAGNOSED, "every pixel at maximum",
          _edit(_pixels(lambda p: np.full_like(p, 4095)))),
    Entry("unsuitable_black.png", NOT_DIAGNOSED, "an all-black PNG", _png(lambda a: np.zeros_like(a))),
    Entry("unsuitable_white.png", NOT_DIAGNOSED, "an all-white PNG", _png(lambda a: np.full_like(a, 255))),
    Entry("unsuitable_palette_no_lut.dcm", NOT_DIAGNOSED, "PALETTE COLOR without a palette LUT", _edit(_palette)),
    Entry("unsuitable_rescale_zero.dcm", NOT_DIAGNOSED, "RescaleSlope 0", _edit(_set(RescaleSlope=0))),
    Entry("unsuitable_tiny.png", NOT_DIAGNOSED, "1x1 image", _png(lambda a: a[:1, :1])),
    Entry("unsuitable_strip.png", NOT_DIAGNOSED, "a 3-pixel-high strip", _png(lambda a: a[:3])),
    Entry("unsuitable_multipage.tif", NOT_DIAGNOSED, "a 3-page TIFF", _multipage_tiff),
    Entry("unsuitable_float.dcm", NOT_DIAGNOSED, "32-bit float pixel data (parametric map)", _edit(_float_pixels)),
    Entry("unsuitable_sr.dcm", NOT_DIAGNOSED, "a structured report (SR SOP class)",
          _edit(_set(SOPClassUID="1.2.840.10008.5.1.4.1.1.88.22", Modality="SR"))),
    # Unreadable: a typed error with one line.
    Entry("bad_empty.dcm", REFUSED, "zero bytes", _text(b"")),
    Entry("bad_text.dcm", REFUSED, "a text file named .dcm", _text(b"Patient report\nnothing to see\n" * 20)),
    Entry("bad_text.png", REFUSED, "a text file named .png", _text(b"not an image\n" * 20)),
    Entry("bad_random.dcm", REFUSED, "random bytes",
          _text(np.random.default_rng(2).integers(0, 256, 20000, dtype=np.uint8).tobytes())),
    Entry("bad_header_only.dcm", REFUSED, "the first 300 bytes of a DICOM", _truncate("dicom/RG1_UNCR.dcm", 0.00004)),
    Entry("bad_truncated_header.dcm", REFUSED, "cut inside the header", _truncate("dicom/RG1_UNCR.dcm", 0.0001)),
    Entry("bad_truncated_pixels.dcm", REFUSED, "cut at half the pixel data", _truncate("dicom/RG1_UNCR.dcm", 0.5)),
    Entry("bad_truncated_j2k.dcm", REFUSED, "J2K cut at half the codestream", _truncate("dicom/RG1_J2KR.dcm", 0.5)),
    Entry("bad_truncated_j2k_end.dcm", REFUSED, "J2K missing its last 64 bytes", _truncate("dicom/RG1_J2KR.dcm",
                                                                                            0.99998)),
    Entry("bad_j2k_siz.dcm", REFUSED, "J2K SIZ marker with impossible image size", _j2k_siz),
    Entry("bad_j2k_middle.dcm", REFUSED, "4 KiB of noise in the middle of a J2K codestream",
          _j2k_codestream_damage(0.5)),
    Entry("bad_j2k_early.dcm", REFUSED, "4 KiB of noise early in a J2K codestream", _j2k_codestream_damage(0.1)),
    Entry("bad_j2k_lossy_middle.dcm", REFUSED, "noise in the middle of a lossy J2K codestream",
          _damage("dicom/RG1_J2KI.dcm", 0.5, 2048)),
    Entry("bad_jpeg_header.dcm", REFUSED, "JPEG DICOM whose SOF segment is zeroed", _jpeg_dicom(damage="header")),
    Entry("bad_jpeg_truncated.dcm", REFUSED, "JPEG DICOM cut at half the frame", _jpeg_dicom(damage="truncated")),
    Entry("bad_jpeg_middle.dcm", REFUSED, "JPEG DICOM with noise in the middle of the frame",
          _jpeg_dicom(damage="middle")),
    Entry("bad_htj2k_random.dcm", REFUSED, "HTJ2K transfer syntax, random codestream", _random_htj2k),
    Entry("bad_rows_mismatch.dcm", REFUSED, "Rows larger than the pixel data", _edit(_header_rows)),
    Entry("bad_rows_fewer.dcm", REFUSED, "Rows half of the pixel data", _edit(_fewer_rows)),
    Entry("bad_no_rows.dcm", REFUSED, "no Rows element", _edit(_no_rows)),
    Entry("bad_huge.dcm", REFUSED, "60000 x 60000 in the header", _edit(_huge)),
    Entry("bad_bits_stored.dcm", REFUSED, "BitsStored 20 > BitsAllocated 16", _edit(_set(BitsStored=20, HighBit=19))),
    Entry("bad_bits_stored_no_preamble.dcm", REFUSED, "BitsStored 20 > BitsAllocated 16, no preamble",
          _edit(_set(BitsStored=20, HighBit=19), preamble=False)),
    Entry("bad_bits_allocated.dcm", REFUSED, "BitsAllocated 12", _edit(_set(BitsAllocated=12))),
    Entry("bad_ybr_label.dcm", REFUSED, "grey pixels labelled YBR_FULL with one sample", _edit(_ybr_label)),
    Entry("bad_no_pixels.dcm", REFUSED, "an image header without pixel data", _edit(_set(PixelData=None))),
    Entry("bad_png_truncated.png", REFUSED, "a PNG cut at half", _truncate("samples/h0001.png", 0.5)),
    Entry("bad_jpeg_truncated.jpg", REFUSED, "a JPEG cut at half", _truncate("samples/16747_3_1.jpg", 0.5)),
    Entry("bad_jpeg_header.jpg", REFUSED, "a JPEG with a damaged header", _damage("samples/16747_3_1.jpg", 0.0005, 64)),
    Entry("bad_symlink_loop.dcm", REFUSED, "a symbolic link to itself", _symlink_loop),
    Entry("bad_broken_link.dcm", REFUSED, "a symbolic link to nothing", _broken_link),
    Entry("bad_folder.dcm", REFUSED, "a folder named like a file", _folder),
    Entry("bad_no_permission.png", REFUSED, "a file without read permission (not enforced for root)", _unreadable),
)


def build(data: Path, out: Path, entries: tuple[Entry, ...] = ENTRIES) -> list[tuple[Entry, Path]]:
    """Make every entry in ``out`` (created); returns (entry, path) pairs in corpus order."""
    out.mkdir(parents=True, exist_ok=True)
    made: list[tuple[Entry, Path]] = []
    for entry in entries:
        target = out / entry.name
        if not target.exists() and not target.is_symlink():
            entry.make(data, target)
        made.append((entry, target))
    return made


def shared_data() -> Path:
    return Path(__file__).resolve().parents[3] / "shared" / "data"


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for entry, path in build(shared_data(), folder):
        sys.stdout.write(f"{entry.expect:14s} {path.name:36s} {entry.what}\n")
