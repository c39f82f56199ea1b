from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ented_desktop.core.imageio import read_photo
from ented_desktop.core.library.thumbnails import make_thumbnail

RED = (255, 0, 0)
# Where the stored top-left corner is shown, per EXIF orientation (row 0 / column 0 as EXIF 2.3 defines).
STORED_TOP_LEFT_SHOWN_AT = {1: "TL", 2: "TR", 3: "BR", 4: "BL", 5: "TL", 6: "TR", 7: "BR", 8: "BL"}


def corner_of_red(pixels: np.ndarray) -> str:
    """Which quadrant of an upright picture is the red one."""
    h, w = pixels.shape[:2]
    quadrants = {
        "TL": pixels[: h // 2, : w // 2],
        "TR": pixels[: h // 2, w // 2 :],
        "BL": pixels[h // 2 :, : w // 2],
        "BR": pixels[h // 2 :, w // 2 :],
    }
    return min(quadrants, key=lambda q: np.abs(quadrants[q].astype(int) - RED).mean())


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_thumbnail_is_upright_for_every_orientation(tmp_path: Path, fmt: str, orientation: int) -> None:
    stored = np.full((40, 80, 3), 128, np.uint8)
    stored[:20, :40] = RED  # the stored top-left quadrant is marked
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = tmp_path / f"o.{fmt.lower()}"
    Image.fromarray(stored).save(source, fmt, exif=exif.tobytes())
    with Image.open(make_thumbnail(source, tmp_path / "t.jpg", 64)) as im:
        thumbnail = np.asarray(im.convert("RGB"))
    assert thumbnail.shape[:2] == ((32, 64) if orientation <= 4 else (64, 32))
    assert corner_of_red(thumbnail) == STORED_TOP_LEFT_SHOWN_AT[orientation]
    assert corner_of_red(read_photo(source).pixels) == STORED_TOP_LEFT_SHOWN_AT[orientation]


def test_16bit_gray_keeps_its_true_brightness(tmp_path: Path) -> None:
    # 16-bit values show as value / 257, however dark the photo is: a maximum of 255 is nearly black.
    dark = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint16)
    Image.fromarray(dark).save(tmp_path / "dark.png")
    with Image.open(make_thumbnail(tmp_path / "dark.png", tmp_path / "dark.jpg", 32)) as im:
        assert np.asarray(im).max() <= 2  # it was stretched to a mean of 128
    halves = np.full((64, 64), 100 * 257, np.uint16)
    halves[:, 32:] = 200 * 257
    Image.fromarray(halves).save(tmp_path / "halves.png")
    with Image.open(make_thumbnail(tmp_path / "halves.png", tmp_path / "halves.jpg", 32)) as im:
        thumbnail = np.asarray(im).astype(int)
    assert np.abs(thumbnail[:, :14] - 100).max() <= 2
    assert np.abs(thumbnail[:, 18:] - 200).max() <= 2
