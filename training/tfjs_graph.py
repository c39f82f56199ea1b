"""Run a TensorFlow.js graph model (``model.json`` + weight files) as a differentiable torch module.

npm is one of the few registries our machines reach, and it serves face-recognition networks as TensorFlow.js
graph models. This reads the graph and executes it node by node with torch operations, so gradients flow through
it (for a training loss). It supports the operations of the MobileNet descriptor the identity loss uses; any
other raises ``ValueError`` naming it. Tensors stay in TensorFlow's NHWC layout; convolutions permute to NCHW and
back. Checked against TensorFlow.js 4 itself on the identity loss's descriptor (same input; largest difference
2e-7 on values up to 0.04).
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_DTYPES = {"float32": np.float32, "int32": np.int32}
_BINARY = {"Add": torch.add, "Mul": torch.mul, "Maximum": torch.maximum, "Minimum": torch.minimum}
SUPPORTED_OPS = {"Placeholder", "Conv2D", "DepthwiseConv2dNative", "Relu", "Mean", *_BINARY}


def read_weights(model_json: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The graph's JSON and its weights by name (float16-quantised weights are widened to float32)."""
    spec = json.loads(Path(model_json).read_text(encoding="utf-8"))
    if spec.get("format") != "graph-model":
        raise ValueError(f"{model_json} is not a TensorFlow.js graph model")
    weights: dict[str, torch.Tensor] = {}
    for group in spec["weightsManifest"]:
        data = b"".join((Path(model_json).parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            quant = entry.get("quantization")
            if (quant and quant.get("dtype") != "float16") or entry["dtype"] not in _DTYPES:
                raise ValueError(f"{entry['name']}: unsupported weight type {quant or entry['dtype']}")
            dtype = np.float16 if quant else _DTYPES[entry["dtype"]]
            count = math.prod(entry["shape"])
            array = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(entry["shape"])
            weights[entry["name"]] = torch.from_numpy(array.astype(np.float32 if quant else dtype))
            offset += count * np.dtype(dtype).itemsize
        if offset != len(data):
            raise ValueError(f"{model_json}: the weight files hold {len(data)} bytes, the manifest {offset}")
    return spec, weights


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) along one axis: output ``ceil(size / stride)``, the odd pixel
    after."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv2d_nhwc(x: torch.Tensor, filt: torch.Tensor, strides: list[int], dilations: list[int], padding: str,
                depthwise: bool) -> torch.Tensor:
    """TensorFlow's Conv2D / DepthwiseConv2dNative: ``x`` NHWC; ``filt`` H x W x in x out (depthwise: H x W x in x
    multiplier, output channel ``c * multiplier + m``)."""
    assert x.ndim == 4 and filt.ndim == 4 and x.shape[3] == filt.shape[2], (x.shape, filt.shape)
    kh, kw, cin, cout = filt.shape
    stride, dilation = strides[1:3], dilations[1:3]
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"unsupported padding {padding!r}")
    if (kh, kw, stride, depthwise) == (1, 1, [1, 1], False):
        # A pointwise convolution is a matrix product in NHWC; torch's conv falls back to a slow path for the
        # permuted (channels-last) input, so this makes the identity loss about 10% faster.
        return x @ filt[0, 0]
    x = x.permute(0, 3, 1, 2)
    if padding == "SAME":
        top, bottom = same_padding(x.shape[2], kh, stride[0], dilation[0])
        left, right = same_padding(x.shape[3], kw, stride[1], dilation[1])
        x = F.pad(x, (left, right, top, bottom))
    if depthwise:
        weight, groups = filt.permute(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw), cin
    else:
        weight, groups = filt.permute(3, 2, 0, 1), 1
    return F.conv2d(x, weight, stride=stride, dilation=dilation, groups=groups).permute(0, 2, 3, 1)


def _ancestors(nodes: list[dict], output: str) -> list[dict]:
    """The nodes ``output`` depends on (itself included), in their original order."""
    by_name = {n["name"]: n for n in nodes}
    if output not in by_name:
        raise ValueError(f"the graph has no node {output!r}")
    needed, todo = set(), [output]
    while todo:
        name = todo.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            todo += [i.split(":")[0].lstrip("^") for i in by_name[name].get("input", [])]
    return [n for n in nodes if n["name"] in needed]


class TFJSGraph(nn.Module):
    """A TensorFlow.js graph model as a module: ``forward(x)`` takes the single input (NHWC) and returns node
    ``output``. Only the nodes it depends on are kept (and need to be supported)."""

    def __init__(self, model_json: str | Path, output: str) -> None:
        super().__init__()
        spec, weights = read_weights(Path(model_json))
        self.nodes = _ancestors([n for n in spec["modelTopology"]["node"] if n["op"] != "Const"], output)
        self.output_name = output
        unsupported = sorted({n["op"] for n in self.nodes} - SUPPORTED_OPS)
        if unsupported:
            raise ValueError(f"{model_json}: unsupported operations {', '.join(unsupported)}")
        inputs = [n["name"] for n in self.nodes if n["op"] == "Placeholder"]
        if len(inputs) != 1:
            raise ValueError(f"{model_json}: expected one input, found {len(inputs)}")
        self.input_name = inputs[0]
        self._buffers_by_name = {}
        for i, (name, value) in enumerate(weights.items()):
            self.register_buffer(f"w{i}", value, persistent=False)
            self._buffers_by_name[name] = f"w{i}"

    def _value(self, name: str, values: dict[str, torch.Tensor]) -> torch.Tensor:
        name = name.split(":")[0]
        return values[name] if name in values else getattr(self, self._buffers_by_name[name])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {self.input_name: x}
        for node in self.nodes:
            op = node["op"]
            if op == "Placeholder":
                continue
            args = [self._value(i, values) for i in node.get("input", []) if not i.startswith("^")]
            attr = node.get("attr", {})
            if op in _BINARY:
                out = _BINARY[op](args[0], args[1])
            elif op == "Relu":
                out = torch.relu(args[0])
            elif op == "Mean":
                keep = attr.get("keep_dims", {}).get("b", False)
                out = args[0].mean(dim=[int(d) for d in args[1].reshape(-1)], keepdim=keep)
            else:  # Conv2D, DepthwiseConv2dNative
                ints = {k: [int(v) for v in attr.get(k, {}).get("list", {}).get("i", [1, 1, 1, 1])]
                        for k in ("strides", "dilations")}
                padding = base64.b64decode(attr["padding"]["s"]).decode()
                out = conv2d_nhwc(args[0], args[1], ints["strides"], ints["dilations"], padding,
                                  depthwise=op == "DepthwiseConv2dNative")
            values[node["name"]] = out
        return values[self.output_name]
