"""Tests for ented_desktop.core.imageio. Every fixture is generated in tmp_path."""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from ented_desktop.core import image_write, imageio
from ented_desktop.core.errors import ImageReadError, ImageWriteError
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import (
    from_float01,
    output_path_for,
    read_image_rgb8,
    read_photo,
    to_float01,
    to_uint8,
    unique_path,
)

CMYK_PROFILE = Path("/usr/share/color/icc/ghostscript/default_cmyk.icc")
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
VALUES_16 = np.array([0, 1, 255, 256, 257, 4660, 32767, 32768, 65534, 65535], dtype=np.uint16)


# --- helpers ----------------------------------------------------------------------------------------


def save_pillow(path: Path, image: Image.Image, fmt: str | None = None, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **options)
    return path


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def write_cv2(path: Path, pixels_rgb_or_gray: np.ndarray) -> Path:
    """A 16-bit fixture written by OpenCV (Pillow cannot write 16-bit colour)."""
    a = pixels_rgb_or_gray
    bgr = a[..., ::-1] if a.ndim == 3 and a.shape[2] == 3 else a
    if a.ndim == 3 and a.shape[2] == 4:
        bgr = a[..., [2, 1, 0, 3]]
    ok, data = cv2.imencode(path.suffix, np.ascontiguousarray(bgr))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def rgb16_fixture() -> np.ndarray:
    """6 x 5 x 3 uint16 with values an 8-bit path would lose, all channels different."""
    rng = np.random.default_rng(3)
    a = rng.integers(0, 65536, size=(6, 5, 3), dtype=np.uint16)
    a.reshape(-1)[: VALUES_16.size] = VALUES_16
    return a


def exif_bytes(orientation: int | None = None, make: str = "ENTED Test Camera") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x8769] = {0x9003: "1952:07:14 10:30:00"}  # DateTimeOriginal in the Exif sub-IFD
    if orientation is not None:
        exif[0x0112] = orientation
    return exif.tobytes()


def parse_exif(data: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(data)
    return exif


def quadrants(height: int = 40, width: int = 60) -> np.ndarray:
    """Stored image with four flat quadrants TL red, TR green, BL blue, BR yellow."""
    a = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    a[:h, :w] = (255, 0, 0)
    a[:h, w:] = (0, 255, 0)
    a[h:, :w] = (0, 0, 255)
    a[h:, w:] = (255, 255, 0)
    return a


COLOURS = {"TL": (255, 0, 0), "TR": (0, 255, 0), "BL": (0, 0, 255), "BR": (255, 255, 0)}
# Which stored quadrant ends up at the upright TL, TR, BL, BR for each EXIF orientation, from the EXIF
# definition of where stored row 0 and column 0 sit (e.g. 6: row 0 is the right side, column 0 the top).
UPRIGHT_CORNERS = {
    1: ("TL", "TR", "BL", "BR"),
    2: ("TR", "TL", "BR", "BL"),
    3: ("BR", "BL", "TR", "TL"),
    4: ("BL", "BR", "TL", "TR"),
    5: ("TL", "BL", "TR", "BR"),
    6: ("BL", "TL", "BR", "TR"),
    7: ("BR", "TR", "BL", "TL"),
    8: ("TR", "BR", "TL", "BL"),
}


def assert_upright(pixels: np.ndarray, orientation: int, stored_hw: tuple[int, int], tol: int) -> None:
    h, w = stored_hw
    expected_hw = (h, w) if orientation <= 4 else (w, h)
    assert pixels.shape[:2] == expected_hw
    uh, uw = expected_hw
    centres = [(uh // 4, uw // 4), (uh // 4, 3 * uw // 4), (3 * uh // 4, uw // 4), (3 * uh // 4, 3 * uw // 4)]
    for (y, x), name in zip(centres, UPRIGHT_CORNERS[orientation], strict=True):
        diff = np.abs(pixels[y, x].astype(int) - COLOURS[name]).max()
        assert diff <= tol, f"orientation {orientation}: upright ({y}, {x}) should be stored {name}"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_types(data: bytes) -> list[bytes]:
    kinds, i = [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        kinds.append(data[i + 4 : i + 8])
        i += 12 + n
    return kinds


def read_error(path: Path, **kwargs: object) -> str:
    with pytest.raises(ImageReadError) as info:
        read_photo(path, **kwargs)
    message = str(info.value)
    assert str(path) in message
    return message.replace(str(path), "<path>")  # so the file's own name cannot satisfy a check


def no_leftovers(folder: Path, keep: set[str]) -> None:
    assert {p.name for p in folder.iterdir()} == keep


# --- read errors ------------------------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert "empty (0 bytes)" in read_error(path)


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated_file(tmp_path: Path, fmt: str, suffix: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    data = encoded(Image.fromarray(noise), fmt)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in read_error(path)


def test_truncated_16bit_png(tmp_path: Path) -> None:
    noise = np.random.default_rng(1).integers(0, 65536, (64, 64, 3), np.uint16)
    full = write_cv2(tmp_path / "full.png", noise)
    path = tmp_path / "cut.png"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert "truncated" in read_error(path)


def test_corrupt_png_data(tmp_path: Path) -> None:
    noise = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = bytearray(encoded(Image.fromarray(noise), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 100 : idat + 140] = bytes(range(40))
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    assert "damaged" in read_error(path)


def test_damaged_header_of_a_known_format(tmp_path: Path) -> None:
    path = tmp_path / "header.jpg"
    path.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 4)
    assert "damaged" in read_error(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "not a JPEG, PNG" in read_error(path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("Grandma's photos, summer 1952\n", encoding="utf-8")
    assert "not a JPEG, PNG" in read_error(path)


def test_unsupported_format(tmp_path: Path) -> None:
    gif = save_pillow(tmp_path / "anim.gif", Image.new("P", (8, 8)), "GIF")
    assert "not a JPEG, PNG" in read_error(gif)
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    assert "HEIC and AVIF images are not supported" in read_error(heic)


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "album.jpg"
    folder.mkdir()
    assert "folder" in read_error(folder)


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in read_error(tmp_path / "nowhere.jpg")
    assert "does not exist" in read_error(tmp_path / "nowhere.jpg" / "below.jpg")


def test_unreadable_file(tmp_path: Path) -> None:
    path = save_pillow(tmp_path / "locked.png", Image.new("RGB", (4, 4)))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("chmod 000 does not stop this user (root) from reading")
        assert "permission denied" in read_error(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def huge_png() -> bytes:
    """A valid-looking PNG header for 20000 x 20000 1-bit pixels followed by a few rows of data."""
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 2500) * 16)
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def huge_bmp() -> bytes:
    """A BMP header for 20000 x 20000 at 24 bits, followed by one row of pixels."""
    row = 20000 * 3
    info = struct.pack("<IiiHHIIiiII", 40, 20000, 20000, 1, 24, 0, row * 20000, 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + 40 + row * 20000, 0, 0, 14 + 40)
    return header + info + bytes(row)


@pytest.mark.parametrize("name, data", [("huge.png", huge_png()), ("huge.bmp", huge_bmp())])
@pytest.mark.parametrize("max_pixels", [imageio.MAX_PIXELS, 10**12])
def test_huge_header_refused_before_decoding(tmp_path: Path, name: str, data: bytes, max_pixels: int) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    start = time.perf_counter()
    message = read_error(path, max_pixels=max_pixels)
    assert time.perf_counter() - start < 1.0
    assert "megapixel limit" in message


def test_max_pixels_is_checked_from_the_header(tmp_path: Path) -> None:
    path = save_pillow(tmp_path / "small.png", Image.new("RGB", (100, 50)))
    assert "100 x 50" in read_error(path, max_pixels=4999)
    assert read_photo(path, max_pixels=5000).size == (100, 50)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", ["big.tif", "big.png"])
def test_a_photo_within_max_pixels_reads_without_pillows_size_warning(tmp_path: Path, monkeypatch, name) -> None:
    # Above Pillow's warning threshold, below MAX_PIXELS: a TIFF warned again while decoding, on stderr.
    path = save_pillow(tmp_path / name, Image.new("RGB", (100, 50)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)
    assert read_photo(path).size == (100, 50)


# --- colour modes and bit depths --------------------------------------------------------------------


def test_rgb_jpeg_basics(tmp_path: Path) -> None:
    path = save_pillow(tmp_path / "p.jpg", Image.new("RGB", (30, 20), (200, 100, 50)), quality=95)
    photo = read_photo(path)
    assert photo.size == (30, 20)
    assert photo.pixels.shape == (20, 30, 3) and photo.pixels.dtype == np.uint8
    assert photo.format == "JPEG" and not photo.grayscale
    assert np.abs(photo.pixels.astype(int) - (200, 100, 50)).max() <= 3
    assert photo.exif is None and photo.icc_profile is None
    assert read_image_rgb8(path).dtype == np.uint8


def test_mpo_is_reported_as_jpeg(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), (10, 20, 30)), Image.new("RGB", (16, 16), (200, 200, 200))]
    path = save_pillow(tmp_path / "camera.jpg", frames[0], "MPO", save_all=True, append_images=frames[1:])
    assert Image.open(path).format == "MPO"
    photo = read_photo(path)
    assert photo.format == "JPEG"
    assert np.abs(photo.pixels.astype(int) - (10, 20, 30)).max() <= 3


def test_cmyk_jpeg_plain_conversion(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (32, 16), (0, 0, 0, 0))
    cmyk.paste((255, 0, 0, 0), (0, 0, 16, 16))  # full cyan on the left, paper white on the right
    path = save_pillow(tmp_path / "press.jpg", cmyk, quality=95)
    photo = read_photo(path)
    assert photo.pixels.shape == (16, 32, 3) and not photo.grayscale
    assert np.abs(photo.pixels[8, 4].astype(int) - (0, 255, 255)).max() <= 4
    assert np.abs(photo.pixels[8, 28].astype(int) - (255, 255, 255)).max() <= 4
    assert photo.icc_profile is None


@pytest.mark.skipif(not CMYK_PROFILE.is_file(), reason=f"no CMYK ICC profile at {CMYK_PROFILE}")
def test_cmyk_jpeg_uses_its_icc_profile(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (32, 16), (255, 0, 0, 0))
    path = save_pillow(tmp_path / "press.jpg", cmyk, quality=95, icc_profile=CMYK_PROFILE.read_bytes())
    photo = read_photo(path)
    with Image.open(path) as im:
        expected = ImageCms.profileToProfile(
            im, ImageCms.getOpenProfile(str(CMYK_PROFILE)), ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
        plain = np.array(im.convert("RGB"))
    np.testing.assert_array_equal(photo.pixels, np.array(expected))
    assert np.abs(photo.pixels.astype(int) - plain).max() > 20  # printed cyan is not (0, 255, 255)
    assert photo.icc_profile is None  # the pixels are sRGB now


def test_16bit_grayscale_png_round_trip(tmp_path: Path) -> None:
    gray = np.resize(VALUES_16, (4, 5)).astype(np.uint16)
    src = save_pillow(tmp_path / "scan.png", Image.fromarray(gray))
    photo = read_photo(src)
    assert photo.grayscale and photo.pixels.dtype == np.uint16
    for c in range(3):
        np.testing.assert_array_equal(photo.pixels[..., c], gray)
    out = write_photo_atomic(photo.pixels, tmp_path / "out.png", grayscale=True)
    with Image.open(out) as im:
        assert im.mode == "I;16"  # one 16-bit channel
    again = read_photo(out)
    assert again.grayscale
    np.testing.assert_array_equal(again.pixels, photo.pixels)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_rgb_round_trip(tmp_path: Path, suffix: str) -> None:
    original = rgb16_fixture()
    src = write_cv2(tmp_path / f"scan{suffix}", original)
    photo = read_photo(src)
    assert photo.pixels.dtype == np.uint16 and not photo.grayscale
    np.testing.assert_array_equal(photo.pixels, original)
    out = write_photo_atomic(photo.pixels, tmp_path / "out.png", exif=exif_bytes(), icc_profile=SRGB_ICC)
    np.testing.assert_array_equal(read_photo(out).pixels, original)
    independent = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(independent[..., ::-1], original)
    with Image.open(out) as im:
        im.verify()  # chunk CRCs of the inserted metadata
    with Image.open(out) as im:
        assert im.info["icc_profile"] == SRGB_ICC
        assert im.getexif()[0x010F] == "ENTED Test Camera"


def test_16bit_rgba_png_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 2, 4), np.uint16)
    rgba[0, 0] = (1000, 2000, 3000, 65535)  # opaque
    rgba[0, 1] = (1000, 2000, 3000, 0)  # transparent -> white
    rgba[1, 0] = (0, 0, 0, 32768)  # half black: 65535 * 32767 / 65535 = 32767
    photo = read_photo(write_cv2(tmp_path / "a.png", rgba))
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels[0, 0], (1000, 2000, 3000))
    np.testing.assert_array_equal(photo.pixels[0, 1], (65535, 65535, 65535))
    np.testing.assert_array_equal(photo.pixels[1, 0], (32767, 32767, 32767))


def test_16bit_gray_alpha_png_stays_gray(tmp_path: Path) -> None:
    gray = np.array([[0, 1000, 65535]], ">u2")
    alpha = np.array([[65535, 0, 65535]], ">u2")  # the middle pixel is transparent -> white
    rows = b"\x00" + np.dstack([gray, alpha]).tobytes()  # filter type 0, then G A G A ... big-endian
    header = struct.pack(">IIBBBBB", 3, 1, 16, 4, 0, 0, 0)  # colour type 4: gray + alpha
    chunks = [image_write._png_chunk(b"IHDR", header), image_write._png_chunk(b"IDAT", zlib.compress(rows)),
              image_write._png_chunk(b"IEND", b"")]
    (tmp_path / "ga.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(chunks))
    photo = read_photo(tmp_path / "ga.png")  # Pillow itself calls this mode RGBA
    assert photo.grayscale and photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels[0], [[0, 0, 0], [65535] * 3, [65535] * 3])


def test_palette_png(tmp_path: Path) -> None:
    image = Image.new("P", (3, 1))
    image.putpalette([10, 20, 30, 200, 100, 0, 7, 8, 9] + [0] * 759)
    image.putdata([0, 1, 2])
    photo = read_photo(save_pillow(tmp_path / "p.png", image))
    assert not photo.grayscale
    np.testing.assert_array_equal(photo.pixels[0], [(10, 20, 30), (200, 100, 0), (7, 8, 9)])


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 0] + [0] * 762)
    image.putdata([0, 1])
    photo = read_photo(save_pillow(tmp_path / "t.png", image, transparency=1))
    np.testing.assert_array_equal(photo.pixels[0], [(10, 20, 30), (255, 255, 255)])


def test_rgba_png_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.array([[(100, 50, 0, 128), (100, 50, 0, 0), (100, 50, 0, 255)]], np.uint8)
    photo = read_photo(save_pillow(tmp_path / "a.png", Image.fromarray(rgba)))
    # 100 * 128/255 + 255 * 127/255 = 177.2; 50 -> 152.1; 0 -> 127.0
    np.testing.assert_array_equal(photo.pixels[0], [(177, 152, 127), (255, 255, 255), (100, 50, 0)])


def test_gray_alpha_png(tmp_path: Path) -> None:
    la = np.array([[(0, 255), (0, 0), (60, 128)]], np.uint8)
    photo = read_photo(save_pillow(tmp_path / "la.png", Image.fromarray(la, "LA")))
    assert photo.grayscale
    # 60 * 128/255 + 255 * 127/255 = 157.1
    np.testing.assert_array_equal(photo.pixels[0], [(0, 0, 0), (255, 255, 255), (157, 157, 157)])


def test_one_bit_png(tmp_path: Path) -> None:
    image = Image.new("1", (2, 1))
    image.putdata([0, 1])
    photo = read_photo(save_pillow(tmp_path / "bw.png", image))
    assert photo.grayscale and photo.pixels.dtype == np.uint8
    np.testing.assert_array_equal(photo.pixels[0], [(0, 0, 0), (255, 255, 255)])


def test_grayscale_jpeg_is_flagged_and_written_back_single_channel(tmp_path: Path) -> None:
    gray = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (16, 1))
    photo = read_photo(save_pillow(tmp_path / "g.jpg", Image.fromarray(gray), quality=95))
    assert photo.grayscale
    np.testing.assert_array_equal(photo.pixels[..., 0], photo.pixels[..., 1])
    for suffix in (".jpg", ".png"):
        out = write_photo_atomic(photo.pixels, tmp_path / f"out{suffix}", grayscale=True)
        with Image.open(out) as im:
            assert im.mode == "L"
            diff = np.abs(np.array(im).astype(int) - photo.pixels[..., 0]).max()
        assert diff <= (0 if suffix == ".png" else 3)


def test_grayscale_output_is_rec601_luma(tmp_path: Path) -> None:
    rgb = np.array([[(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 10, 10), (255, 255, 255)]], np.uint8)
    out = write_photo_atomic(rgb, tmp_path / "luma.png", grayscale=True)
    # 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, 0.114 * 255 = 29.1
    np.testing.assert_array_equal(np.array(Image.open(out)), [[76, 150, 29, 10, 255]])


def test_sixteen_bit_to_jpeg_is_rounded_to_eight_bits(tmp_path: Path) -> None:
    pixels = np.full((8, 8, 3), 257 * 200, np.uint16)
    out = write_photo_atomic(pixels, tmp_path / "o.jpg")
    assert np.abs(np.array(Image.open(out)).astype(int) - 200).max() <= 1


# --- orientation and metadata -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt, suffix, tol", [("JPEG", ".jpg", 4), ("PNG", ".png", 0), ("WEBP", ".webp", 0)])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(tmp_path: Path, fmt: str, suffix: str, tol: int, orientation: int) -> None:
    stored = quadrants()
    options: dict[str, object] = {"exif": exif_bytes(orientation)}
    options.update({"quality": 95, "subsampling": 0} if fmt == "JPEG" else {})
    options.update({"lossless": True} if fmt == "WEBP" else {})
    photo = read_photo(save_pillow(tmp_path / f"o{suffix}", Image.fromarray(stored), fmt, **options))
    assert_upright(photo.pixels, orientation, stored.shape[:2], tol)
    assert photo.pixels.flags.c_contiguous
    assert photo.exif is not None and photo.exif.startswith(b"Exif\x00\x00")
    exif = parse_exif(photo.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "ENTED Test Camera"
    out = write_photo_atomic(photo.pixels, tmp_path / "upright.jpg", exif=photo.exif)
    with Image.open(out) as im:
        assert im.getexif()[0x0112] == 1
    assert_upright(read_photo(out).pixels, orientation, stored.shape[:2], 4)  # not turned twice


def test_exif_orientation_on_16bit_png(tmp_path: Path) -> None:
    stored = quadrants().astype(np.uint16) * 257
    src = write_photo_atomic(stored, tmp_path / "o6.png", exif=exif_bytes(6))
    photo = read_photo(src)
    assert photo.pixels.dtype == np.uint16
    assert_upright(to_uint8(photo.pixels), 6, stored.shape[:2], 0)
    assert parse_exif(photo.exif)[0x0112] == 1


def tiff_16bit_rgb(pixels: np.ndarray, orientation: int) -> bytes:
    """A minimal little-endian baseline TIFF: 16-bit RGB, one uncompressed strip, an Orientation tag (Pillow
    cannot write 16-bit colour, and OpenCV writes no orientation)."""
    h, w, _ = pixels.shape
    data = pixels.astype("<u2").tobytes()
    tags = [(256, 3, w), (257, 3, h), (258, 3, None), (259, 3, 1), (262, 3, 2), (273, 4, None), (274, 3, orientation),
            (277, 3, 3), (278, 3, h), (279, 4, len(data))]
    bits_at = 8 + 2 + 12 * len(tags) + 4
    offsets = {258: bits_at, 273: bits_at + 6}  # BitsPerSample (three SHORTs) and the strip follow the IFD
    ifd = b""
    for tag, kind, value in tags:
        value = offsets.get(tag, value)
        field = struct.pack("<HH", value, 0) if kind == 3 and tag != 258 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 3 if tag == 258 else 1) + field
    return (b"II*\x00" + struct.pack("<IH", 8, len(tags)) + ifd + struct.pack("<I", 0)
            + struct.pack("<HHH", 16, 16, 16) + data)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_on_16bit_tiff(tmp_path: Path, orientation: int) -> None:
    stored = quadrants().astype(np.uint16) * 257
    (tmp_path / "scan.tif").write_bytes(tiff_16bit_rgb(stored, orientation))
    photo = read_photo(tmp_path / "scan.tif")
    assert photo.pixels.dtype == np.uint16
    assert_upright(to_uint8(photo.pixels), orientation, stored.shape[:2], 0)


def test_tiff_orientation_and_descriptive_exif(tmp_path: Path) -> None:
    stored = quadrants()
    src = save_pillow(tmp_path / "scan.tif", Image.fromarray(stored), exif=exif_bytes(8))
    photo = read_photo(src)
    assert_upright(photo.pixels, 8, stored.shape[:2], 0)
    exif = parse_exif(photo.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "ENTED Test Camera"
    assert exif.get_ifd(0x8769)[0x9003] == "1952:07:14 10:30:00"
    assert 0x0111 not in exif and 0x0100 not in exif  # strip offsets and width belong to the TIFF only


def test_malformed_exif_is_dropped_not_fatal(tmp_path: Path) -> None:
    src = save_pillow(tmp_path / "bad.jpg", Image.new("RGB", (8, 8)), exif=b"Exif\x00\x00XX" + bytes(20))
    photo = read_photo(src)
    assert photo.exif is None and photo.size == (8, 8)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_and_icc_are_carried_to_outputs(tmp_path: Path, suffix: str) -> None:
    source = Image.fromarray(quadrants())
    src = save_pillow(tmp_path / "src.jpg", source, quality=95, exif=exif_bytes(1), icc_profile=SRGB_ICC)
    photo = read_photo(src)
    assert photo.icc_profile == SRGB_ICC
    out = tmp_path / f"out{suffix}"
    write_photo_atomic(photo.pixels, out, exif=photo.exif, icc_profile=photo.icc_profile)
    with Image.open(out) as im:
        assert im.info["icc_profile"] == SRGB_ICC
        exif = im.getexif()
        assert exif[0x010F] == "ENTED Test Camera"
        assert exif.get_ifd(0x8769)[0x9003] == "1952:07:14 10:30:00"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_round_trip_keeps_depth_pixels_exif_and_icc(tmp_path: Path, dtype: type,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_write, "_TIFF_STRIP_BYTES", 4096)  # several strips
    pixels = rgb16_fixture() if dtype == np.uint16 else to_uint8(rgb16_fixture())
    pixels = np.tile(pixels, (40, 30, 1))  # 240 x 150, rows that compress
    out = write_photo_atomic(pixels, tmp_path / "out.tif", exif=exif_bytes(), icc_profile=SRGB_ICC)
    photo = read_photo(out)
    assert photo.format == "TIFF" and photo.pixels.dtype == dtype and not photo.grayscale
    np.testing.assert_array_equal(photo.pixels, pixels)
    assert photo.icc_profile == SRGB_ICC
    exif = parse_exif(photo.exif)
    assert exif[0x010F] == "ENTED Test Camera"
    assert exif.get_ifd(0x8769)[0x9003] == "1952:07:14 10:30:00"
    independent = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)  # libtiff, not the code that wrote it
    assert independent.dtype == dtype
    np.testing.assert_array_equal(independent[..., ::-1], pixels)
    with Image.open(out) as im:
        assert im.tag_v2[259] == 8 and len(im.tag_v2[273]) > 1  # Deflate, in strips
    assert out.stat().st_size < pixels.nbytes / 4


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grayscale_tiff_is_one_channel_of_luma(tmp_path: Path, dtype: type) -> None:
    gray = np.resize(VALUES_16, (7, 9)).astype(np.uint16)
    gray = gray if dtype == np.uint16 else to_uint8(gray)
    out = write_photo_atomic(np.repeat(gray[..., None], 3, axis=2), tmp_path / "g.tiff", grayscale=True)
    with Image.open(out) as im:
        assert im.mode == ("I;16" if dtype == np.uint16 else "L")
    photo = read_photo(out)
    assert photo.grayscale and photo.pixels.dtype == dtype
    np.testing.assert_array_equal(photo.pixels[..., 1], gray)


def test_tiff_of_a_photo_with_malformed_exif_is_written_without_it(tmp_path: Path) -> None:
    out = write_photo_atomic(quadrants(), tmp_path / "o.tif", exif=b"Exif\x00\x00XX" + bytes(20))
    photo = read_photo(out)
    assert set(parse_exif(photo.exif)) == {0x0112, 0x011A, 0x011B, 0x0128}  # upright, and 72 dpi as TIFF wants
    np.testing.assert_array_equal(photo.pixels, quadrants())


def test_icc_profile_of_the_wrong_colour_space_is_left_out(tmp_path: Path) -> None:
    gray_icc = SRGB_ICC[:16] + b"GRAY" + SRGB_ICC[20:]  # only the header matters to the check
    pixels = np.full((4, 4, 3), 90, np.uint8)
    colour = write_photo_atomic(pixels, tmp_path / "c.png", icc_profile=gray_icc)
    gray = write_photo_atomic(pixels, tmp_path / "g.png", icc_profile=gray_icc, grayscale=True)
    assert "icc_profile" not in Image.open(colour).info
    assert Image.open(gray).info["icc_profile"] == gray_icc


def test_sixteen_bit_png_has_metadata_chunks_before_pixels(tmp_path: Path) -> None:
    out = write_photo_atomic(rgb16_fixture(), tmp_path / "m.png", exif=exif_bytes(), icc_profile=SRGB_ICC)
    kinds = png_types(out.read_bytes())
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert kinds.index(b"iCCP") < kinds.index(b"IDAT") and kinds.index(b"eXIf") < kinds.index(b"IDAT")


# --- paths ------------------------------------------------------------------------------------------


def test_unicode_and_spaces_in_paths(tmp_path: Path) -> None:
    src = tmp_path / "Großmutter 1952" / "été photo.jpg"
    save_pillow(src, Image.fromarray(quadrants()), quality=95)
    photo = read_photo(src)
    out = output_path_for(src, src.parent / "restauré")
    out.parent.mkdir()
    assert out.name == "été photo.jpg"
    write_photo_atomic(photo.pixels, out)
    assert read_photo(out).size == photo.size


def test_output_path_for_naming() -> None:
    out = Path("out")
    assert output_path_for("in/Photo.JPG", out) == out / "Photo.JPG"
    assert output_path_for("in/photo.jpeg", out) == out / "photo.jpeg"
    assert output_path_for("in/photo.Jpeg", out) == out / "photo.Jpeg"
    assert output_path_for("in/photo.jfif", out) == out / "photo.jfif"
    assert output_path_for("in/photo.JPE", out) == out / "photo.JPE"
    assert output_path_for("in/scan.tiff", out) == out / "scan.png"
    assert output_path_for("in/scan.PNG", out) == out / "scan.png"
    assert output_path_for("in/scan.webp", out) == out / "scan.png"
    assert output_path_for("in/scan.bmp", out, suffix_for_png=".PNG") == out / "scan.PNG"
    assert output_path_for("in/archive.1952.tif", out) == out / "archive.1952.png"
    assert output_path_for("in/noext", out) == out / "noext.png"


def test_unique_path(tmp_path: Path) -> None:
    path = tmp_path / "name.png"
    assert unique_path(path) == path
    path.write_bytes(b"x")
    assert unique_path(path) == tmp_path / "name (2).png"
    (tmp_path / "name (2).png").write_bytes(b"x")
    assert unique_path(path) == tmp_path / "name (3).png"


# --- writing ----------------------------------------------------------------------------------------


def test_write_never_overwrites_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "r.png"
    path.write_bytes(b"precious")
    pixels = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ImageWriteError, match="already exists"):
        write_photo_atomic(pixels, path)
    assert path.read_bytes() == b"precious"
    write_photo_atomic(pixels, path, overwrite=True)
    assert read_photo(path).size == (4, 4)
    no_leftovers(tmp_path, {"r.png"})


def test_write_does_not_overwrite_a_file_that_appears_while_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "race.png"
    real_encode = image_write._encode

    def encode_while_another_export_writes(*args: object) -> bytes:
        path.write_bytes(b"other export")
        return real_encode(*args)

    monkeypatch.setattr(image_write, "_encode", encode_while_another_export_writes)
    with pytest.raises(ImageWriteError, match="already exists"):
        write_photo_atomic(np.zeros((4, 4, 3), np.uint8), path)
    assert path.read_bytes() == b"other export"
    no_leftovers(tmp_path, {"race.png"})


def test_written_file_permissions_follow_umask(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX permissions only")
    old = os.umask(0o022)
    try:
        out = write_photo_atomic(np.zeros((2, 2, 3), np.uint8), tmp_path / "p.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_non_writable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("chmod 555 does not stop this user (root) from writing")
        with pytest.raises(ImageWriteError, match="not writable"):
            write_photo_atomic(np.zeros((4, 4, 3), np.uint8), folder / "out.png")
        no_leftovers(folder, set())
    finally:
        folder.chmod(0o755)


def test_permission_denied_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def deny_in_tmp(path: str | os.PathLike[str], *args: object, **kwargs: object) -> int:
        if Path(path).parent == tmp_path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny_in_tmp)
    with pytest.raises(ImageWriteError, match="not writable") as info:
        write_photo_atomic(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.png")
    assert str(tmp_path / "out.png") in str(info.value)
    no_leftovers(tmp_path, set())


def test_disk_full_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    for suffix in (".png", ".jpg"):
        with pytest.raises(ImageWriteError, match="disk is full"):
            write_photo_atomic(np.zeros((16, 16, 3), np.uint8), tmp_path / f"out{suffix}")
    no_leftovers(tmp_path, set())


def test_missing_output_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="folder does not exist"):
        write_photo_atomic(np.zeros((4, 4, 3), np.uint8), tmp_path / "gone" / "out.png")


def test_unsupported_output_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match=r"only JPEG \(.*\), PNG \(\.png\) and TIFF \(\.tif, \.tiff\)"):
        write_photo_atomic(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.webp")
    no_leftovers(tmp_path, set())


def test_write_rejects_malformed_pixels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="H x W x 3"):
        write_photo_atomic(np.zeros((4, 4), np.uint8), tmp_path / "a.png")
    with pytest.raises(ValueError, match="uint8 or uint16"):
        write_photo_atomic(np.zeros((4, 4, 3), np.float32), tmp_path / "a.png")


def test_jpeg_quality_and_chroma_subsampling(tmp_path: Path) -> None:
    pixels = quadrants()
    high = write_photo_atomic(pixels, tmp_path / "high.jpg", jpeg_quality=95)
    low = write_photo_atomic(pixels, tmp_path / "low.jpg", jpeg_quality=60)
    from PIL import JpegImagePlugin

    assert JpegImagePlugin.get_sampling(Image.open(high)) == 0  # 4:4:4
    assert JpegImagePlugin.get_sampling(Image.open(low)) == 2  # 4:2:0
    assert low.stat().st_size < high.stat().st_size


# --- value conversions ------------------------------------------------------------------------------


def test_to_float01_hand_values() -> None:
    np.testing.assert_array_equal(to_float01(np.array([0, 51, 255], np.uint8)), np.float32([0, 0.2, 1]))
    f = to_float01(np.array([0, 65535, 32768], np.uint16))
    assert f.dtype == np.float32
    np.testing.assert_allclose(f, [0.0, 1.0, 32768 / 65535], rtol=0, atol=1e-7)
    np.testing.assert_array_equal(to_float01(np.array([-0.5, 0.25, 1.5])), np.float32([0, 0.25, 1]))


def test_from_float01_hand_values() -> None:
    x = np.array([0.0, 1.0, 0.5, 0.2, -0.3, 1.7, 0.5 / 255, 0.49 / 255], np.float32)
    np.testing.assert_array_equal(from_float01(x, np.uint8), [0, 255, 128, 51, 0, 255, 1, 0])
    u16 = from_float01(np.array([0.0, 1.0, 0.5, 1 / 65535]), np.uint16)
    assert u16.dtype == np.uint16
    np.testing.assert_array_equal(u16, [0, 65535, 32768, 1])
    with pytest.raises(ValueError):
        from_float01(x, np.int16)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_float_round_trip_is_exact_for_every_value(dtype: type) -> None:
    values = np.arange(np.iinfo(dtype).max + 1).astype(dtype)
    np.testing.assert_array_equal(from_float01(to_float01(values), dtype), values)


def test_to_uint8_hand_values() -> None:
    # x / 257 rounded: 128 -> 0.498, 129 -> 0.502, 385 -> 1.498, 386 -> 1.502
    u16 = np.array([0, 128, 129, 257, 385, 386, 65535], np.uint16)
    np.testing.assert_array_equal(to_uint8(u16), [0, 0, 1, 1, 1, 2, 255])
    u8 = np.array([3, 250], np.uint8)
    assert to_uint8(u8) is u8
    np.testing.assert_array_equal(to_uint8(np.array([0.0, 0.5, 1.0])), [0, 128, 255])
    with pytest.raises(TypeError):
        to_uint8(np.array([1], np.int32))
