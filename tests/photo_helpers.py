"""Photos for tests: JPEGs with EXIF GPS, a camera serial and an orientation."""

from __future__ import annotations

import io

SERIAL = "CAM-SERIAL-7731942"
OWNER = "Zelda Quixotic-Farnsworth"
TAKEN = "2026:11:24 09:15:30"


def jpeg_with_exif(width: int = 200, height: int = 100, orientation: int = 6) -> bytes:
    """A JPEG whose top-left quarter is red (the rest blue), with EXIF GPS (51.5 N,
    0.12 W), a body serial number, an owner name and ``orientation``."""
    from PIL import Image

    img = Image.new("RGB", (width, height), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, width // 2, height // 2))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = SERIAL  # BodySerialNumber (Exif IFD, also accepted in IFD0 by readers)
    exif[0xA430] = OWNER  # CameraOwnerName
    exif.get_ifd(0x8769)[0x9003] = TAKEN  # DateTimeOriginal (local time)
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 0.0)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 0.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def png_bytes(width: int = 64, height: int = 48, colour=(0, 160, 0, 255)) -> bytes:
    from PIL import Image

    img = Image.new("RGBA", (width, height), colour)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
