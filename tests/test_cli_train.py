"""`ented train` refuses bad arguments with a message (exit 2) before any training starts."""

import json

import pytest

from ented_desktop.cli.main import main
from ented_desktop.core.engines.torch_engine import pick_torch_device
from ented_desktop.core.errors import UserError


@pytest.mark.parametrize("config", ['{"name": "x", "network": "cpu128s", "iterations": 5}', "[1, 2]", "not json"])
def test_a_broken_configuration_is_a_usage_error(tmp_path, capsys, config):
    path = tmp_path / "broken.json"
    path.write_text(config)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert "not a valid training configuration" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_iterations_must_be_positive(capsys, tmp_path):
    assert main(["train", "lfw-cpu128s", "--iterations", "0", "--run-dir", str(tmp_path / "run")]) == 2
    assert "--iterations must be at least 1" in capsys.readouterr().err


def test_an_unknown_device_is_a_user_error():
    with pytest.raises(UserError, match="Unknown device 'bogus'"):
        pick_torch_device("bogus")
    assert pick_torch_device("cpu").type == "cpu"


def test_the_shipped_configurations_load():
    from training.config import CONFIG_DIR, load_train_config

    for path in CONFIG_DIR.glob("*.json"):
        assert load_train_config(path.stem).name == json.loads(path.read_text())["name"], path
