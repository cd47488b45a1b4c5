"""QR codes as SVG (qrcode's path image: no image library needed)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def render_qr_svg(text: str) -> str:
    """An SVG QR code (qrcode's path factory: no Pillow). Blocking: call it through a thread."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage)
    svg: str = image.to_string(encoding="unicode")
    return svg
