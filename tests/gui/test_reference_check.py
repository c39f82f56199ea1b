"""A reference image is checked for a face the way a restore prepares it (the real detector)."""

from pathlib import Path

import pytest

from ented_desktop.core.errors import ImageReadError
from ented_desktop.gui.reference_check import shows_a_face

from .fakes import make_photo

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "astronaut.jpg"


def test_a_portrait_shows_a_face_and_a_plain_picture_does_not(tmp_path):
    assert shows_a_face(SAMPLE, tmp_path)
    assert not shows_a_face(make_photo(tmp_path / "no_face.png", 180), tmp_path)


def test_an_unreadable_file_raises_the_core_reason(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(ImageReadError, match="broken.png"):
        shows_a_face(broken, tmp_path)
