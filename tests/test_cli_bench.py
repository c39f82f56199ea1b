"""`ented bench`: its report, and that it (and so the whole `ented` command) works where `resource` is missing."""

import importlib
import json
import sys

from ented_desktop.cli.main import build_parser, main


def test_bench_reports_both_engines_and_the_photo(tiny_model_dir, capsys):
    args = ["bench", "--model", str(tiny_model_dir / "tiny.safetensors"), "--device", "cpu", "--repeats", "1",
            "--batch", "2", "--faces", "1"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["torch"]["seconds_per_face"] > 0 and report["onnx"]["faces_per_second"] > 0
    photo = report["photo_24mp"]
    assert photo["megapixels"] == 24.0 and photo["faces_restored"] == 1
    assert 50 < photo["peak_rss_mb_before"] <= photo["peak_rss_mb"] < 100_000  # MB, not KiB or bytes
    assert main([*args, "--skip-photo"]) == 0
    assert "ONNX Runtime is" in capsys.readouterr().out


def test_without_the_resource_module_memory_is_not_measured(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "resource", None)  # as on Windows: importing it raises ImportError
    monkeypatch.delitem(sys.modules, "ented_desktop.cli.cmd_bench")  # imported afresh, restored afterwards
    bench = importlib.import_module("ented_desktop.cli.cmd_bench")
    assert "bench" in build_parser().format_help()
    assert bench.peak_rss_mb() is None
    photo = {"megapixels": 24.0, "faces_restored": 1, "faces_found": 1, "engine": "onnx", "seconds": 1.0,
             "peak_rss_mb": None, "peak_rss_mb_before": None}
    engine = {"seconds_per_face": 0.02, "faces_per_second": 50.0, "batch": 8}
    bench._print_report({"model": "m", "resolution": 128, "device": "cpu", "torch": engine, "onnx": engine,
                         "onnx_speedup": 1.0, "photo_24mp": photo})
    assert "peak memory not measured on this system" in capsys.readouterr().out
