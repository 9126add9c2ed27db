"""The pairing QR, drawn here with `qrcode` (no external service).

Only ever handed out inline (a data: URI in the API answer and on the dashboard): a URL
that could redraw it would have to name the code, and URLs end up in access logs.
"""

from __future__ import annotations

import base64
import io

import qrcode

from streams.services import IssuedCode, qr_payload


def qr_png(issued: IssuedCode) -> bytes:
    image = qrcode.make(qr_payload(issued), box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_data_uri(issued: IssuedCode) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(issued)).decode()
