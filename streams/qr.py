"""The pairing QR, drawn here with `qrcode` (no external service)."""

from __future__ import annotations

import base64
import io

import qrcode

from streams.services import qr_payload


def qr_png(code: str) -> bytes:
    image = qrcode.make(qr_payload(code), box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_data_uri(code: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(code)).decode()
