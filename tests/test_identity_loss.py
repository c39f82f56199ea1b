"""The TensorFlow.js graph runner and the identity loss built on it."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training.identity_loss import IdentityLoss, check_identity_net
from training.tfjs_graph import TFJSGraph, conv2d_nhwc, same_padding

ROOT = Path(__file__).resolve().parents[1]
IDENTITY_NET = ROOT / "data" / "identity_net"


@pytest.mark.parametrize(("size", "kernel", "stride", "expected"), [
    (224, 3, 2, (0, 1)),  # out 112: (112 - 1) * 2 + 3 - 224 = 1 pixel, after
    (7, 3, 1, (1, 1)),
    (8, 1, 2, (0, 0)),
    (5, 4, 1, (1, 2)),
])
def test_same_padding_matches_tensorflow(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride, 1) == expected


def test_depthwise_channel_order_is_input_then_multiplier():
    x = torch.zeros(1, 1, 1, 2)
    x[..., 0], x[..., 1] = 1.0, 10.0
    filt = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)  # in 2, multiplier 2
    out = conv2d_nhwc(x, filt, [1, 1, 1, 1], [1, 1, 1, 1], "VALID", depthwise=True)
    assert out.flatten().tolist() == [1.0, 2.0, 30.0, 40.0]


def test_conv_is_torch_conv_with_tensorflow_layouts():
    x, filt = torch.randn(2, 9, 9, 3), torch.randn(3, 3, 3, 5)
    out = conv2d_nhwc(x, filt, [1, 2, 2, 1], [1, 1, 1, 1], "SAME", depthwise=False)
    expected = F.conv2d(F.pad(x.permute(0, 3, 1, 2), (1, 1, 1, 1)), filt.permute(3, 2, 0, 1), stride=2)
    assert out.shape == (2, 5, 5, 5) and torch.allclose(out, expected.permute(0, 2, 3, 1), atol=1e-5)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pointwise_conv_is_torch_conv(padding):
    x, filt = torch.randn(2, 4, 5, 3), torch.randn(1, 1, 3, 6)
    out = conv2d_nhwc(x, filt, [1, 1, 1, 1], [1, 1, 1, 1], padding, depthwise=False)
    expected = F.conv2d(x.permute(0, 3, 1, 2), filt.permute(3, 2, 0, 1)).permute(0, 2, 3, 1)
    assert out.shape == (2, 4, 5, 6) and torch.allclose(out, expected, atol=1e-5)


def _write_graph(folder: Path, op: str = "Relu") -> tuple[Path, np.ndarray, np.ndarray]:
    """x -> Conv2D (3x3, VALID, float16-quantised filter) -> Mul(scale) -> ``op`` -> Mean over H, W."""
    rng = np.random.default_rng(0)
    filt = rng.normal(size=(3, 3, 2, 4)).astype(np.float16)
    scale = np.array([1.0, -1.0, 2.0, 0.5], np.float32)
    axes = np.array([1, 2], np.int32)
    (folder / "g.bin").write_bytes(filt.tobytes() + scale.tobytes() + axes.tobytes())

    def node(name, kind, inputs=(), **attr):
        return {"name": name, "op": kind, "input": list(inputs), "attr": attr}

    pad = {"s": base64.b64encode(b"VALID").decode()}
    spec = {"format": "graph-model", "modelTopology": {"node": [
        node("x", "Placeholder"), node("f", "Const"), node("s", "Const"), node("axes", "Const"),
        node("conv", "Conv2D", ["x", "f"], padding=pad, strides={"list": {"i": ["1", "1", "1", "1"]}}),
        node("scaled", "Mul", ["conv", "s"]), node("act", op, ["scaled"]),
        node("pool", "Mean", ["act", "axes"], keep_dims={"b": False}),
        node("unused_head", "Softmax", ["pool"]),  # not an ancestor of "pool": never run, never checked
    ]}, "weightsManifest": [{"paths": ["g.bin"], "weights": [
        {"name": "f", "shape": [3, 3, 2, 4], "dtype": "float32",
         "quantization": {"dtype": "float16", "original_dtype": "float32"}},
        {"name": "s", "shape": [4], "dtype": "float32"},
        {"name": "axes", "shape": [2], "dtype": "int32"},
    ]}]}
    path = folder / "g.json"
    path.write_text(json.dumps(spec))
    return path, filt.astype(np.float32), scale


def test_graph_runs_the_ancestors_of_its_output_with_gradients(tmp_path):
    path, filt, scale = _write_graph(tmp_path)
    graph = TFJSGraph(path, output="pool")
    x = torch.randn(2, 6, 6, 2, requires_grad=True)
    out = graph(x)
    conv = F.conv2d(x.detach().permute(0, 3, 1, 2), torch.from_numpy(filt).permute(3, 2, 0, 1))
    expected = torch.relu(conv * torch.from_numpy(scale)[:, None, None]).mean(dim=(2, 3))
    assert out.shape == (2, 4) and torch.allclose(out, expected, atol=1e-5)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(b.requires_grad for b in graph.buffers())


def test_graph_refuses_unsupported_operations_and_bad_weights(tmp_path):
    path, _, _ = _write_graph(tmp_path, op="Sigmoid")
    with pytest.raises(ValueError, match="unsupported operations Sigmoid"):
        TFJSGraph(path, output="pool")
    with pytest.raises(ValueError, match="no node 'nothing'"):
        TFJSGraph(_write_graph(tmp_path)[0], output="nothing")
    (tmp_path / "g.bin").write_bytes((tmp_path / "g.bin").read_bytes()[:-4])
    with pytest.raises(ValueError):
        TFJSGraph(path, output="pool")


def test_identity_net_files_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch_identity_net.sh"):
        check_identity_net(tmp_path)
    (tmp_path / "faceres.json").write_text("{}")
    (tmp_path / "faceres.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="SHA-256"):
        check_identity_net(tmp_path)


@pytest.mark.skipif(not IDENTITY_NET.is_dir(), reason="no identity net; run scripts/fetch_identity_net.sh")
def test_identity_loss_tells_people_apart(shared_dir):
    from ented_desktop.core.face.align import align_face
    from ented_desktop.core.face.detect import create_detector
    from ented_desktop.core.imageio import read_image_rgb8

    detector = create_detector("auto")

    def face(name: str, number: int) -> torch.Tensor:
        image = read_image_rgb8(shared_dir / f"data/lfw/images_deepfunneled/{name}/{name}_{number:04d}.jpg")
        crop = align_face(image, detector.detect(image)[0].landmarks, 128)[0]
        return torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 127.5 - 1.0

    loss = IdentityLoss(IDENTITY_NET)
    a1, a2, b = face("Aaron_Peirsol", 1), face("Aaron_Peirsol", 2), face("Ian_Thorpe", 1)
    assert loss(a1, a1).item() == pytest.approx(0.0, abs=1e-5)
    assert loss(a2, a1).item() < loss(b, a1).item()
    blurred = F.interpolate(F.interpolate(a1, scale_factor=0.125, mode="area"), size=128, mode="bilinear")
    assert loss(blurred, a1).item() > 0.05
    restored = blurred.clone().requires_grad_(True)
    loss(restored, a1).backward()
    assert restored.grad.abs().sum() > 0
