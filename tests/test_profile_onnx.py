"""scripts/profile_onnx.py: the convolutions' work counted from recorded shapes, and a profile printed."""

import importlib.util
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "profile_onnx.py"
spec = importlib.util.spec_from_file_location("profile_onnx", SCRIPT)
profile_onnx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_onnx)
conv_flops, main = profile_onnx.conv_flops, profile_onnx.main


def test_a_convolutions_work_is_two_flops_per_multiply_add():
    event = {"args": {"input_type_shape": [{"float": [1, 8, 10, 10]}, {"float": [16, 8, 3, 3]}],
                      "output_type_shape": [{"float": [1, 16, 10, 10]}]}}
    assert conv_flops(event) == 2 * 16 * 8 * 3 * 3 * 10 * 10  # 230,400


def test_a_profile_names_the_convolutions_work_and_rate(tmp_path, capsys):
    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(64, 64, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["lq", "w"], ["restored"], pads=[1, 1, 1, 1])], "conv",
                              [helper.make_tensor_value_info("lq", TensorProto.FLOAT, [1, 64, 128, 128])],
                              [helper.make_tensor_value_info("restored", TensorProto.FLOAT, [1, 64, 128, 128])],
                              [weight])
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert main([str(path), "--runs", "1", "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "convolutions: 1.2 GFLOP" in out  # 2 x 64 x 64 x 9 x 128 x 128 = 1.21e9
    assert "slowest nodes:" in out and "Conv" in out
