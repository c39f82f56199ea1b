import dataclasses
import json
import logging

import pytest

from ented_desktop.core.settings import (
    SETTINGS_VERSION,
    Settings,
    default_settings_path,
    export_pattern_problem,
    load_settings,
    read_settings,
    save_settings,
)


def test_missing_file_gives_defaults(tmp_path):
    settings, warnings = read_settings(tmp_path / "settings.json")
    assert settings == Settings()
    assert warnings == []


def test_round_trip(tmp_path):
    path = tmp_path / "sub" / "settings.json"
    wanted = Settings(
        device="cuda",
        engine="onnx",
        model_dir="/m",
        thumbnail_size=128,
        export_format="jpeg",
        jpeg_quality=80,
        export_pattern="{album}_{stem}_{version}",
    )
    save_settings(wanted, path)
    assert load_settings(path) == wanted
    assert json.loads(path.read_text())["version"] == SETTINGS_VERSION
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temporary file left


def test_corrupt_file_is_kept_aside(tmp_path, caplog):
    path = tmp_path / "settings.json"
    path.write_text('{"device": "cuda",')
    with caplog.at_level(logging.WARNING):
        settings = load_settings(path)
    assert settings == Settings()
    assert not path.exists()
    assert (tmp_path / "settings.json.bad").read_text() == '{"device": "cuda",'
    assert "damaged" in caplog.text


def test_json_that_is_not_an_object_is_corrupt(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("[1, 2]")
    settings, warnings = read_settings(path)
    assert settings == Settings()
    assert len(warnings) == 1
    assert (tmp_path / "settings.json.bad").exists()


def test_migrates_v0(tmp_path):
    path = tmp_path / "settings.json"
    v0 = {"use_gpu": False, "thumb_size": 192, "jpeg_quality": 70, "export_format": "jpeg"}
    path.write_text(json.dumps(v0))
    settings, warnings = read_settings(path)
    assert warnings == []
    assert settings == Settings(
        device="cpu",
        thumbnail_size=192,
        jpeg_quality=70,
        export_format="jpeg",
        export_pattern="{stem}_restored",
    )


def test_migrates_v0_gpu_to_cuda(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"use_gpu": True}))
    assert load_settings(path).device == "cuda"


def test_migrates_v1(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "device": "cpu",
                "engine": "onnx",
                "model_dir": "/models",
                "thumbnail_size": 320,
                "export_format": "png",
                "jpeg_quality": 90,
            }
        )
    )
    settings, warnings = read_settings(path)
    assert warnings == []
    assert settings == Settings(
        device="cpu",
        engine="onnx",
        model_dir="/models",
        thumbnail_size=320,
        export_format="png",
        jpeg_quality=90,
        export_pattern="{stem}_restored",
    )
    save_settings(settings, path)
    assert json.loads(path.read_text())["version"] == SETTINGS_VERSION


def test_invalid_values_fall_back_one_by_one(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "version": SETTINGS_VERSION,
                "device": "tpu",
                "engine": "onnx",
                "thumbnail_size": 5,
                "jpeg_quality": 101.5,
                "export_pattern": "{name}",
                "export_format": "gif",
                "model_dir": "",
            }
        )
    )
    settings, warnings = read_settings(path)
    assert settings == Settings(engine="onnx")
    assert len(warnings) == 6


def test_newer_file_is_read_with_a_warning(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": SETTINGS_VERSION + 3, "device": "cpu", "hologram": True}))
    settings, warnings = read_settings(path)
    assert settings.device == "cpu"
    assert settings.version == SETTINGS_VERSION
    assert any("newer" in w for w in warnings)


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("{stem}", True),
        ("{date}_{album}_{stem}_v{version}_{model}", True),
        ("", False),
        ("a/{stem}", False),
        ("{stem}_{nope}", False),
        ("{0}", False),
        ("{stem", False),
    ],
)
def test_export_pattern_problem(pattern, ok):
    assert (export_pattern_problem(pattern) is None) is ok


def test_default_path_follows_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTED_DATA_DIR", str(tmp_path))
    assert default_settings_path() == tmp_path / "settings.json"


def test_utf16_file_is_damaged_and_kept_aside(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": SETTINGS_VERSION, "device": "cpu"}), encoding="utf-16")
    settings, warnings = read_settings(path)
    assert settings == Settings()
    assert len(warnings) == 1 and "damaged" in warnings[0]
    assert (tmp_path / "settings.json.bad").exists() and not path.exists()


def test_utf8_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": SETTINGS_VERSION, "device": "cpu"}), encoding="utf-8-sig")
    settings, warnings = read_settings(path)
    assert (settings.device, warnings) == ("cpu", [])
    assert path.exists()


def test_saving_over_a_newer_file_keeps_what_this_version_does_not_know(tmp_path):
    path = tmp_path / "settings.json"
    newer = {"version": SETTINGS_VERSION + 3, "device": "tpu", "jpeg_quality": 90, "hologram": {"on": True}}
    path.write_text(json.dumps(newer))
    settings, _ = read_settings(path)
    assert settings.device == "auto"  # a device this version does not know
    save_settings(settings, path)  # as on quit, nothing changed
    assert json.loads(path.read_text()) == newer
    save_settings(dataclasses.replace(settings, jpeg_quality=80), path)  # changed in this version
    assert json.loads(path.read_text()) == {**newer, "jpeg_quality": 80}


def test_a_version_2_file_reads_unchanged_and_tiff_is_a_format_since_version_3(tmp_path):
    path = tmp_path / "settings.json"
    v2 = {"version": 2, "device": "cpu", "export_format": "jpeg", "jpeg_quality": 70, "export_pattern": "{stem}"}
    path.write_text(json.dumps(v2))
    settings, warnings = read_settings(path)
    assert warnings == []
    assert settings == Settings(device="cpu", export_format="jpeg", jpeg_quality=70, export_pattern="{stem}")
    save_settings(dataclasses.replace(settings, export_format="tiff"), path)
    saved = {**dataclasses.asdict(settings), "version": SETTINGS_VERSION, "export_format": "tiff"}
    assert json.loads(path.read_text()) == saved
    assert read_settings(path) == (dataclasses.replace(settings, export_format="tiff"), [])
