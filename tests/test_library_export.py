import numpy as np
import pytest
from PIL import Image

from ented_desktop.core.imageio import read_photo
from ented_desktop.core.library import Library
from tests.test_library_database import exif_with_date, icc_profile, jpeg, run


@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "lib")
    yield library
    library.close()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_version_exports_as_tiff_with_its_depth_exif_and_icc(lib, tmp_path, dtype):
    jpeg(tmp_path / "photos" / "grandma.jpg")
    (photo,) = run(lib.photos.import_paths(lib.albums.create("Family"), [tmp_path / "photos"]))[1].added
    pixels = np.random.default_rng(0).integers(0, np.iinfo(dtype).max + 1, (20, 30, 3)).astype(dtype)
    vid = lib.versions.add(photo, pixels, model="m", exif=exif_with_date(), icc_profile=icc_profile())
    tiff = lib.versions.export(vid, tmp_path / "out", "tiff", pattern="{stem}")
    assert tiff.name == "grandma.tif"
    exported = read_photo(tiff)
    assert exported.format == "TIFF" and exported.pixels.dtype == dtype
    np.testing.assert_array_equal(exported.pixels, pixels)
    assert exported.icc_profile == icc_profile()
    exif = Image.Exif()
    exif.load(exported.exif)
    assert exif.get_ifd(0x8769)[0x9003] == "1950:01:02 03:04:05"
    assert lib.versions.export(vid, tmp_path / "out", "tiff", pattern="{stem}").name == "grandma (2).tif"
