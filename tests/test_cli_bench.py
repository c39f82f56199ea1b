"""`ented bench`: its report, and that it (and so the whole `ented` command) works where `resource` is missing."""

import importlib
import json
import sys

import pytest

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


def test_fidelity_is_refused_for_a_model_without_one(tiny_model_dir, capsys):
    args = ["bench", "--model", str(tiny_model_dir / "tiny.safetensors"), "--device", "cpu", "--fidelity", "0.3"]
    assert main(args) == 2
    assert "applies to CodeFormer only" in capsys.readouterr().err


@pytest.mark.slow
def test_a_third_party_model_is_timed_on_both_engines_in_one_run(tmp_path, capsys):
    from tests.upstream_files import install_as_thirdparty, write_upstream_file

    models = tmp_path / "models"
    weights = install_as_thirdparty(write_upstream_file("codeformer", tmp_path), models, "cf")
    args = ["bench", "--model", "cf", "--model-dir", str(models), "--device", "cpu", "--repeats", "1", "--faces", "1",
            "--fidelity", "0.7", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert weights.with_suffix(".onnx").is_file()  # exported once, as an import would have
    assert report["architecture"] == "codeformer" and report["fidelity"] == 0.7
    for engine in ("torch", "onnx"):
        timing = report[engine]
        assert 0 < timing["fastest"] <= timing["seconds_per_face"] <= timing["slowest"]
    assert report["onnx_speedup"] > 0
    photo = report["photo_24mp"]
    assert photo["megapixels"] == 24.0 and photo["faces_restored"] == 1 and photo["engine"] == "onnx"
