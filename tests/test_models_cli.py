"""`ented models`: list, info, download (offline, licence), import refusals, verify, remove; exit codes and
one-sentence errors."""

from __future__ import annotations

import socket
import threading

import pytest
import torch

from ented_desktop.cli.main import main
from tests.test_models_download import FileServer
from tests.test_models_store import write_thirdparty


def _stderr_sentence(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("ented: ")
    return err[-1]


def test_list_shows_installed_models_and_the_catalogue(tmp_path, capsys):
    write_thirdparty(tmp_path, "face-x")
    assert main(["models", "list", "--model-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header, *rows = out.split("\n\n")[0].splitlines()
    assert header.split() == ["NAME", "ARCHITECTURE", "RESOLUTION", "SIZE", "LICENCE", "SHA256", "WHERE"]
    face = next(r for r in rows if r.startswith("face-x "))
    assert all(word in face for word in ("gfpgan", "512px", "Apache-2.0", "verified", str(tmp_path)))
    ented = next(r for r in rows if r.startswith("ented-lfw128 "))
    assert "128px" in ented and "verified" in ented and "(shipped)" in ented
    catalogue = out.split("\n\n")[1]
    assert "codeformer" in catalogue and "non-commercial" in catalogue and "realesrgan-x2plus" in catalogue
    assert "ented-lfw128" not in catalogue  # installed, so not offered


def test_info_of_a_catalogued_model(tmp_path, capsys):
    assert main(["models", "info", "codeformer", "--model-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth" in out
    assert "1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7" in out and "non-commercial" in out
    assert main(["models", "info", "nothing", "--model-dir", str(tmp_path)]) == 2
    assert "No model called 'nothing'" in _stderr_sentence(capsys)


def test_download_offline_exits_2_with_the_way_out(tmp_path, capsys, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ENTED_MODELS_URL_BASE", f"http://127.0.0.1:{port}")
    assert main(["models", "download", "gfpgan-1.4", "--model-dir", str(tmp_path)]) == 2
    message = _stderr_sentence(capsys)
    assert "offline" in message and "`ented models import GFPGANv1.4.pth`" in message
    assert not any(tmp_path.iterdir())


def test_download_of_codeformer_needs_its_licence_accepted(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["models", "download", "codeformer", "--model-dir", str(tmp_path)]) == 2
    assert "--accept-license" in _stderr_sentence(capsys)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["models", "download", "codeformer", "--model-dir", str(tmp_path)]) == 2
    assert "S-Lab" in capsys.readouterr().err


def test_download_with_the_licence_accepted_fetches_and_checks(tmp_path, capsys, monkeypatch):
    """--accept-license goes on to download; the test server's file is not CodeFormer, so it is refused."""
    server = FileServer()
    server.files["codeformer.pth"] = bytes(376637898 // 1000)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("ENTED_MODELS_URL_BASE", server.base)
        code = main(["models", "download", "codeformer", "--accept-license", "--model-dir", str(tmp_path)])
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2 and server.requests[0] == ("codeformer.pth", None)
    assert "instead of 376637898; it was deleted" in _stderr_sentence(capsys)
    assert not any(tmp_path.iterdir())


def test_download_of_the_shipped_model_says_there_is_nothing_to_do(tmp_path, capsys):
    assert main(["models", "download", "ented-lfw128", "--model-dir", str(tmp_path)]) == 2
    assert "ships with ENTED Desktop" in _stderr_sentence(capsys)


def test_import_of_a_malicious_file_exits_2(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    torch.save({"x": Payload()}, tmp_path / "evil.pth")
    assert main(["models", "import", str(tmp_path / "evil.pth"), "--model-dir", str(tmp_path / "m")]) == 2
    assert "would run Python code" in _stderr_sentence(capsys)
    assert not (tmp_path / "ran").exists()


def test_verify_reports_a_damaged_model_and_exits_1(tmp_path, capsys):
    path = write_thirdparty(tmp_path, "face-x")
    assert main(["models", "verify", "--model-dir", str(tmp_path)]) == 0
    assert "face-x: ok" in capsys.readouterr().out
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    assert main(["models", "verify", "--model-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "face-x.safetensors does not match its sha256" in captured.out and "1 of" in captured.err


@pytest.mark.parametrize(("name", "message"), [("ented-lfw128", "ships with ENTED Desktop"),
                                               ("nothing", "No model called 'nothing' is installed")])
def test_remove_refusals_exit_2(tmp_path, capsys, name, message):
    assert main(["models", "remove", name, "--model-dir", str(tmp_path)]) == 2
    assert message in _stderr_sentence(capsys)


def test_remove(tmp_path, capsys):
    path = write_thirdparty(tmp_path, "face-x")
    assert main(["models", "remove", "face-x", "--model-dir", str(tmp_path)]) == 0
    assert not path.exists() and "Removed face-x" in capsys.readouterr().out
