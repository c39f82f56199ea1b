"""The self-test's own parts (the whole of it runs in CI on the built bundle, scripts/build_bundle.sh): its
offline guard, its random-weight model, its report and exit status."""

import os
import socket

import pytest

from ented_desktop import selftest
from ented_desktop.core.archs import detect_architecture, unwrap_state_dict


def test_offline_refuses_internet_connections_and_then_allows_them_again():
    with selftest.offline(), socket.socket(socket.AF_INET) as s, pytest.raises(OSError, match="offline"):
        s.connect(("127.0.0.1", 9))
    assert socket.socket.connect.__name__ == "connect"


def test_the_random_model_is_an_upstream_realesrgan_x2_file(tmp_path):
    import torch

    path = selftest.random_realesrgan(tmp_path / "x2.pth")
    payload = torch.load(path, weights_only=True)
    assert list(payload) == ["params_ema"]
    info = detect_architecture(unwrap_state_dict(payload))
    assert (info.architecture, info.purpose, info.scale) == ("realesrgan", "background", 2)


@pytest.fixture
def restored_env(monkeypatch):
    """run() moves the per-user folders of its process; put them back after the test."""
    for name in ("ENTED_DATA_DIR", "ENTED_MODEL_DIR", "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                 "XDG_STATE_HOME", "QT_QPA_PLATFORM"):
        monkeypatch.setenv(name, os.environ.get(name, "unset"))


def test_one_line_per_check_and_exit_1_when_one_fails(restored_env, monkeypatch, capsys):
    seen = []

    def fine(work):
        seen.append((work.is_dir(), os.environ["ENTED_DATA_DIR"].startswith(str(work.parent)),
                     "ENTED_MODEL_DIR" in os.environ, os.environ["QT_QPA_PLATFORM"]))
        return "all there"

    def broken(work):
        raise ValueError("first line\nsecond line")

    monkeypatch.setattr(selftest, "CHECKS", [("fine", fine), ("broken", broken)])
    assert selftest.run() == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ENTED Desktop self-test in ") and lines[0].endswith(" (offline)")
    assert lines[1].startswith("ok    fine: all there (")
    assert lines[2].startswith("FAIL  broken: ValueError: first line | second line (")
    assert lines[3].startswith("self-test FAILED: 1 of 2 checks failed")
    assert seen == [(True, True, False, "offscreen")]


def test_exit_0_when_every_check_passes(restored_env, monkeypatch, capsys):
    monkeypatch.setattr(selftest, "CHECKS", [("fine", lambda work: "yes")])
    assert selftest.run() == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("self-test passed: 1 checks")
