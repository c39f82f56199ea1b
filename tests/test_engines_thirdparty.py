"""Third-party face models on both engines and through the photo pipeline.

Each architecture goes from a random-weight file in its upstream layout through import (as `ented models import`
stores it), detection, ONNX export with its parity check, and a real photo restored and pasted by the pipeline.
The 512 px networks are slow on a CPU, so those tests are marked slow and share one export per architecture.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from ented_desktop.core.engines import load_engine
from ented_desktop.core.engines.thirdparty import (
    ThirdPartyOnnxEngine,
    check_fidelity,
    load_thirdparty,
)
from ented_desktop.core.engines.thirdparty_export import export_thirdparty_onnx, parity_error
from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.face.detect import create_detector
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.paths import resources_dir
from ented_desktop.core.pipeline import Restorer
from ented_desktop.core.weights import MANIFEST, read_manifest
from tests.upstream_files import install_as_thirdparty, write_upstream_file

SAMPLE = resources_dir() / "samples" / "astronaut.jpg"
FACE_MODELS = ("gfpgan", "codeformer", "restoreformer", "restoreformer++")


class ReferencelessEngine:
    """A stand-in third-party engine: returns the face's negative; records what it was given."""

    name, device, model_name, resolution, uses_reference, fidelity = "onnx", "cpu", "stand-in", 128, False, None

    def __init__(self):
        self.calls = []

    def restore(self, lq, ref):
        self.calls.append((lq.copy(), ref.copy()))
        return 1.0 - lq


@pytest.fixture(scope="module")
def sample():
    return read_image_rgb8(SAMPLE)


@pytest.fixture(scope="module")
def detector():
    return create_detector("yuface")


def test_fidelity_is_codeformers_w_with_upstreams_default():
    assert check_fidelity("codeformer", None) == 0.5
    assert check_fidelity("codeformer", 0.0) == 0.0 and check_fidelity("codeformer", 1) == 1.0
    assert check_fidelity("gfpgan", None) is None
    with pytest.raises(UserError, match="between 0 .quality. and 1 .fidelity."):
        check_fidelity("codeformer", 1.5)
    with pytest.raises(UserError, match="applies to CodeFormer only"):
        check_fidelity("restoreformer++", 0.7)


def test_enteds_engines_use_the_reference_and_have_no_fidelity(tiny_model_dir):
    for name in ("torch", "onnx"):
        engine = load_engine(tiny_model_dir / "tiny.safetensors", name, "cpu")
        assert engine.uses_reference is True and engine.fidelity is None
    with pytest.raises(UserError, match="applies to CodeFormer only"):
        load_engine(tiny_model_dir / "tiny.safetensors", "torch", "cpu", fidelity=0.3)


def test_an_enteds_export_is_not_taken_for_a_third_party_one(tiny_model_dir):
    with pytest.raises(ModelError, match="not an export of a third-party face model"):
        ThirdPartyOnnxEngine(tiny_model_dir / "tiny.onnx", "cpu")


def test_the_report_says_the_reference_is_not_used(sample, detector):
    engine = ReferencelessEngine()
    faces = detector.detect(sample)
    reference = np.full((64, 64, 3), 200, np.uint8)
    result = Restorer(engine, detector).restore(sample, faces=faces, references=[reference])
    (report,) = result.faces
    assert report.restored and report.reference == "unused"
    assert "restores from the face alone" in report.reason and "reference was not used" in report.reason
    lq, ref = engine.calls[0]
    assert np.array_equal(lq, ref)  # the person's reference was not even cropped
    without = Restorer(ReferencelessEngine(), detector).restore(sample, faces=faces).faces[0]
    assert without.reference == "unused" and "reference was not used" not in without.reason
    assert not np.array_equal(result.pixels, sample)


def test_a_grayscale_photo_stays_grayscale(sample, detector):
    gray = np.repeat(sample.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    result = Restorer(ReferencelessEngine(), detector).restore(gray, grayscale=True)
    assert result.restored_count == 1 and not np.array_equal(result.pixels, gray)
    assert np.array_equal(result.pixels[..., 0], result.pixels[..., 1])
    assert np.array_equal(result.pixels[..., 1], result.pixels[..., 2])


def test_parity_tolerates_float_noise_and_one_flipped_code_but_not_a_wrong_export():
    rng = np.random.default_rng(0)
    expected = rng.uniform(-1, 1, (1, 3, 512, 512)).astype(np.float32)
    assert parity_error(expected, expected + 1e-4) is None
    flipped = expected.copy()
    flipped[..., :32, :32] += 0.5  # one 32 x 32 patch from another code
    assert parity_error(expected, flipped) is None
    assert "mean difference" in parity_error(expected, expected * 0.9)
    assert "not numbers" in parity_error(expected, expected * np.nan)


@pytest.mark.slow
def test_an_upscaler_or_an_unlisted_file_is_not_loaded_as_a_face_model(tmp_path):
    weights = install_as_thirdparty(write_upstream_file("realesrgan", tmp_path), tmp_path / "models", "x2")
    with pytest.raises(ModelError, match="Real-ESRGAN 2x, an image upscaler, not a face restorer"):
        load_thirdparty(weights)
    (tmp_path / "models" / MANIFEST).write_text("")
    with pytest.raises(ModelError, match="not listed"):
        load_thirdparty(weights)


@pytest.fixture(scope="module", params=FACE_MODELS)
def installed(request, tmp_path_factory) -> tuple[str, Path]:
    """One architecture's random-weight upstream file, imported and exported to ONNX once per test session."""
    arch = request.param
    directory = tmp_path_factory.mktemp(arch.replace("+", "p"))
    upstream = write_upstream_file(arch, directory, seed=3)
    weights = install_as_thirdparty(upstream, directory / "models", arch.replace("+", "p"))
    upstream.unlink()
    export_thirdparty_onnx(weights)
    return arch, weights


@pytest.mark.slow
def test_imported_exported_and_restoring_a_real_photo(installed, sample, detector):
    arch, weights = installed
    onnx_path = weights.with_suffix(".onnx")
    manifest = read_manifest(weights.parent)
    assert onnx_path.name in manifest and weights.name in manifest
    engine = load_engine(weights.stem, "onnx", "cpu", weights.parent)
    assert (engine.architecture, engine.resolution, engine.uses_reference) == (arch, 512, False)
    assert engine.fidelity == (0.5 if arch == "codeformer" else None)
    result = Restorer(engine, detector).restore(sample)
    (face,) = result.faces
    assert face.restored and face.reference == "unused" and result.pixels.shape == sample.shape
    changed = np.any(result.pixels != sample, axis=2)
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = face.box
    assert changed.any() and np.all(np.hypot(xs - (x0 + x1) / 2, ys - (y0 + y1) / 2) < face.size)


@pytest.mark.slow
def test_torch_engine_restores_the_same_face(installed, sample, detector):
    arch, weights = installed
    torch_engine = load_engine(weights.stem, "torch", "cpu", weights.parent)
    onnx_engine = load_engine(weights.stem, "onnx", "cpu", weights.parent)
    face = Restorer(onnx_engine, detector).detect(sample)[0]
    from ented_desktop.core.face.align import align_face

    lq = (align_face(sample, face.landmarks, 512)[0].astype(np.float32) / 255.0)[None]
    a, b = torch_engine.restore(lq, lq), onnx_engine.restore(lq, lq)
    assert a.shape == lq.shape and parity_error(a * 2 - 1, b * 2 - 1) is None


@pytest.mark.slow
def test_an_export_from_other_weights_is_refused(installed):
    _, weights = installed
    with pytest.raises(ModelError, match="not exported from the weights beside it"):
        ThirdPartyOnnxEngine(weights.with_suffix(".onnx"), "cpu", weights_sha256="0" * 64)


@pytest.mark.slow
def test_codeformers_fidelity_is_chosen_at_run_time_on_both_engines(installed):
    """w = 0 computes what upstream's ``if w > 0`` branch skips; ONNX and torch agree at every w."""
    arch, weights = installed
    if arch != "codeformer":
        pytest.skip("fidelity is CodeFormer's")
    module, _ = load_thirdparty(weights)
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        skipped = module.net(x, weight=0)[0]  # spandrel's port of upstream's forward, fuse skipped at w = 0
        assert torch.allclose(module(x, torch.tensor([0.0])), skipped, atol=1e-3)  # float summation order
    lq = ((x.permute(0, 2, 3, 1).numpy() + 1) / 2).astype(np.float32)
    outputs = {}
    for w in (0.0, 1.0):
        engines = [load_engine(weights.stem, name, "cpu", weights.parent, fidelity=w) for name in ("torch", "onnx")]
        outputs[w] = [e.restore(lq, lq) for e in engines]
        assert parity_error(outputs[w][0] * 2 - 1, outputs[w][1] * 2 - 1) is None
    assert np.abs(outputs[0.0][1] - outputs[1.0][1]).mean() > 1e-3


@pytest.mark.slow
def test_every_convolution_in_the_export_has_constant_weights(installed):
    """ONNX Runtime pre-packs only constant weights for its fast kernels: GFPGAN's modulated convolutions must
    reach the export in their activation-modulated form (:mod:`ented_desktop.core.archs.onnx_forms`)."""
    import onnx

    _, weights = installed
    graph = onnx.load(str(weights.with_suffix(".onnx"))).graph
    constants = {t.name for t in graph.initializer} | {o for n in graph.node if n.op_type == "Constant"
                                                        for o in n.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(n.input[1] in constants for n in convs)

