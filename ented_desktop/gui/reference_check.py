"""Whether an image chosen as a person's reference shows a face a restore can use."""

from __future__ import annotations

from pathlib import Path

from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import read_image_rgb8


def shows_a_face(path: Path, model_dir: Path | None) -> bool:
    """True when a restore could prepare ``path`` as a reference: it is prepared the same way
    (core.pipeline.prepare_reference, with the detector core.pipeline.load_restorer gives a restorer).
    Raises the core's ImageReadError when the file cannot be read. Slow the first time (the pipeline brings
    in torch): call it off the main thread."""
    from ented_desktop.core.face.detect import create_detector
    from ented_desktop.core.pipeline import prepare_reference

    rgb = read_image_rgb8(path)
    detector = create_detector("auto", model_dir, device="cpu")  # cheap to make; a ModelError is not "no face"
    try:
        prepare_reference(rgb, detector)
    except UserError:  # its only one: no face found
        return False
    return True
