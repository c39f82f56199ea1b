"""One way to open an ONNX Runtime session: the device's providers, the session options, a clear refusal."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ModelError, UserError


def session_options() -> Any:
    """Full graph optimisation, and as many intra-op threads as the machine has cores (ONNX Runtime's default
    counts physical cores only, and a shared machine's affinity mask may allow fewer).

    Memory: the CPU arena on, its per-shape "memory pattern" off. Without the arena every run mapped its tensors
    afresh and the kernel zeroed each page on first touch (CodeFormer: 172,000 page faults, 4.40 s a face); with
    the arena and the pattern, runs reused memory (4.19 s) but kept a second, pre-planned block (peak 2.8 GB
    instead of 2.0). The arena alone reuses freed tensors within and across runs: 4.13 s, peak 2.1 GB. It keeps
    them until the session is dropped (the app drops its models when its job queue goes idle); handing them back
    after each photo cost 0.25 s a photo."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = True
    options.enable_mem_pattern = False
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return options


def open_session(path: Path, device: str = "auto") -> Any:
    """An ``onnxruntime.InferenceSession`` of ``path`` on CUDA when asked for or (``auto``) present, else the CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.startswith("cuda") and "CUDAExecutionProvider" not in available:
        raise UserError("CUDA was requested but ONNX Runtime has no CUDA provider here; use --device cpu or auto.")
    providers = ["CPUExecutionProvider"]
    if device != "cpu" and "CUDAExecutionProvider" in available:
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(path), session_options(), providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for malformed files
        raise ModelError(f"{Path(path).name} is not a loadable ONNX model ({exc}).") from exc
    return_freed_memory()
    return session


def return_freed_memory() -> None:
    """Give the heap's freed pages back to the system (glibc's ``malloc_trim``; nothing elsewhere). Loading a
    model parses its whole file and copies the weights out of it: CodeFormer's 360 MB grew the process by
    778 MB, of which 400 MB were freed but kept by the allocator, and the peak of restoring a 24-megapixel photo
    sat on top of them."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: a libc without it (musl)
        ctypes.CDLL(None).malloc_trim(0)


def session_device(session: Any) -> str:
    """"cuda" or "cpu", as the torch engine and --device name it, not by ONNX Runtime's provider."""
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
