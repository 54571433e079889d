"""The digital-reading acquisition check (42 CFR 37.42; NIOSH B Reader guidance): a radiograph classified for the
programme is acquired at 10 bits or more a pixel and a pixel pitch of 200 um or less. A file below either limit is
*shown* as below the requirements - a warning for the reader, never a block on reading it."""

from __future__ import annotations

from dataclasses import dataclass

from engine.io.image import ImageMeta
from engine.true_size import acquisition_pitch_mm

MIN_BITS_STORED = 10
MAX_PITCH_MM = 0.200
BELOW = "below the digital reading requirements"


@dataclass(frozen=True)
class AcquisitionCheck:
    """What the file says against the two limits; ``below`` is True when either is broken."""

    bits_stored: int | None
    pitch_mm: float | None
    reasons: tuple[str, ...]  # one line per broken limit
    unknown: tuple[str, ...]  # one line per value the file does not give

    @property
    def below(self) -> bool:
        return bool(self.reasons)

    def message(self) -> str:
        """One line for the screen: the warning with its reasons, the unknowns, or that the file meets both."""
        if self.reasons:
            return f"⚠ Acquisition {BELOW}: {'; '.join(self.reasons)} (a warning: reading is not blocked)."
        if self.unknown:
            return f"Acquisition not checked: {'; '.join(self.unknown)}."
        return (f"Acquisition meets the digital reading requirements ({self.bits_stored} bits, "
                f"{self.pitch_mm * 1000:.0f} µm pixel pitch).")


def check_acquisition(meta: ImageMeta) -> AcquisitionCheck:
    """Bits Stored >= 10 and pixel pitch <= 200 um, from the header alone."""
    bits, pitch = meta.bits_stored, acquisition_pitch_mm(meta)
    reasons, unknown = [], []
    if bits is None:
        unknown.append("the file gives no Bits Stored")
    elif bits < MIN_BITS_STORED:
        reasons.append(f"{bits} bits stored (at least {MIN_BITS_STORED} are required)")
    if pitch is None:
        unknown.append("the file gives no pixel spacing")
    elif pitch > MAX_PITCH_MM + 1e-9:
        reasons.append(f"{pitch * 1000:.0f} µm pixel pitch (at most {MAX_PITCH_MM * 1000:.0f} µm is required)")
    return AcquisitionCheck(bits, pitch, tuple(reasons), tuple(unknown))
