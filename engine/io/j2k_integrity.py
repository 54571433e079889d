"""Is a JPEG 2000 (Part 1) codestream intact? A check the decoders do not make.

OpenJPEG, GDCM and Pillow decode a codestream with overwritten bytes into a damaged image without a warning
(measured on the corpus, ``tests/corpus``). But Part 1 codestreams carry a structural guarantee: packet headers
and MQ-coded data are bit-stuffed so that a 0xFF byte is never followed by a byte above 0x8F inside a tile-part's
data (ISO/IEC 15444-1, B.10.1 and C.1.3) — only the optional SOP (FF91) and EPH (FF92) markers may appear there.
Random bytes break that rule within a few hundred bytes, and every tile-part must end where its SOT segment
says, at the next SOT or at EOC. No decoder library exposes this check, hence these few lines.

Not for HTJ2K (Part 15): its cleanup pass codes its streams differently.
"""

from __future__ import annotations

import numpy as np

SOC_SIZ = b"\xff\x4f\xff\x51"
SOT, SOD, EOC = b"\xff\x90", b"\xff\x93", b"\xff\xd9"
_IN_DATA_MARKERS = (0x91, 0x92)  # SOP, EPH


def codestream_problem(codestream: bytes) -> str | None:
    """Why this codestream is damaged, or None when it looks intact (or cannot be parsed far enough to say)."""
    start = codestream.find(SOC_SIZ)
    if start < 0:
        return None  # not a raw codestream we understand: no verdict rather than a guess
    at = start + 2
    try:
        while codestream[at : at + 2] != SOT:  # main header: marker segments up to the first tile-part
            if codestream[at] != 0xFF:
                return "main header is broken"
            at += 2 + int.from_bytes(codestream[at + 2 : at + 4], "big")
            if at >= len(codestream):
                return "no tile data"
        while codestream[at : at + 2] == SOT:
            length = int.from_bytes(codestream[at + 6 : at + 10], "big")  # Psot, SOT marker included
            end = at + length if length else len(codestream) - 2
            if end > len(codestream):
                return "a tile-part is cut short"
            data = at + 12
            while codestream[data : data + 2] != SOD:  # tile-part header segments
                if codestream[data] != 0xFF or data >= end:
                    return "tile-part header is broken"
                data += 2 + int.from_bytes(codestream[data + 2 : data + 4], "big")
            body = np.frombuffer(codestream, np.uint8, count=end - data - 2, offset=data + 2)
            after_ff = body[1:][body[:-1] == 0xFF]
            if np.any((after_ff > 0x8F) & ~np.isin(after_ff, _IN_DATA_MARKERS)):
                return "tile data contains bytes no encoder writes"
            at = end
    except IndexError:
        return "the codestream ends inside a marker segment"
    tail = codestream[at:]
    if not tail.startswith(EOC) and tail.strip(b"\x00"):  # DICOM pads a fragment to even length with 0x00
        return "a tile-part does not end where its header says"
    return None
