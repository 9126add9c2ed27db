"""Lossless removal of metadata from a JPEG that is already fit to send.

Re-encoding costs milliseconds of CPU per frame and loses quality; a camera
frame that needs no rotation or resizing only needs its metadata dropped (EXIF
and GPS, XMP, IPTC, comments, maker notes, trailing data such as motion-photo
video). Pixels are untouched: every scan segment is copied byte for byte.
"""

from __future__ import annotations

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length field


def _keep(marker: int, payload: bytes) -> bool:
    if marker == 0xE0:
        return payload.startswith(b"JFIF\x00")
    if marker == 0xE2:
        return payload.startswith(b"ICC_PROFILE\x00")  # colours stay right
    if marker == 0xEE:
        return payload.startswith(b"Adobe")  # the colour transform decoders need
    if 0xE1 <= marker <= 0xEF or marker == 0xFE:
        return False  # APPn (EXIF, XMP, IPTC, MPF...) and comments
    return True  # tables, frame and scan headers


def _scan_end(data: bytes, start: int) -> int:
    """Index of the first real marker after entropy-coded data at ``start``."""
    index = start
    while True:
        index = data.index(b"\xff", index)
        following = data[index + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            index += 1  # stuffed byte, restart marker or fill byte: still scan data
            continue
        return index


def strip_metadata(data: bytes) -> bytes:
    """The JPEG without metadata segments or trailing bytes. Raises ValueError
    on a malformed stream (callers have already decoded it, so that is rare)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out = bytearray(b"\xff\xd8")
    index = 2
    while index < len(data):
        if data[index] != 0xFF:
            raise ValueError("expected a marker")
        marker = data[index + 1]
        if marker == 0xFF:
            index += 1
            continue
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)
        if marker in _STANDALONE:
            out += data[index:index + 2]
            index += 2
            continue
        length = int.from_bytes(data[index + 2:index + 4], "big")
        segment_end = index + 2 + length
        if length < 2 or segment_end > len(data):
            raise ValueError("truncated segment")
        if _keep(marker, data[index + 4:segment_end]):
            out += data[index:segment_end]
        index = segment_end
        if marker == _SOS:
            scan_end = _scan_end(data, index)
            out += data[index:scan_end]
            index = scan_end
    raise ValueError("no end-of-image marker")
