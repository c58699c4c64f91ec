"""Reading enrolment QR images back in tests: zbarimg for PNG (Debian zbar-tools), path parsing for SVG."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import qrcode
import qrcode.constants

ZBARIMG = shutil.which("zbarimg")
"""The independent PNG decoder, when installed."""


def decode_png(data: bytes, tmp_path: Path) -> str:
    """The text of the QR code in a PNG, read by zbarimg."""
    assert ZBARIMG is not None
    path = tmp_path / "qr.png"
    path.write_bytes(data)
    out = subprocess.run([ZBARIMG, "--raw", "-q", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def svg_modules(svg: bytes) -> set[tuple[int, int]]:
    """Dark modules of a ``SvgPathImage`` (one square sub-path per module), as (row, column)."""
    text = svg.decode()
    squares = re.findall(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H[\d.]+z", text)
    assert squares, "no module squares in the SVG"
    size = float(squares[0][2]) - float(squares[0][0])
    origin = min(float(x) for x, _, _, _ in squares)
    return {(round((float(y) - origin) / size), round((float(x) - origin) / size)) for x, y, _, _ in squares}


def expected_modules(payload: str) -> set[tuple[int, int]]:
    """Dark modules of the QR code of ``payload`` made with the same parameters (error correction M)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    return {(r, c) for r, row in enumerate(matrix) for c, dark in enumerate(row) if dark}
