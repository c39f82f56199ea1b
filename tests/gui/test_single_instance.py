"""One window per library: a second ``ented-desktop`` hands its paths to the first and exits 0, with no window
of its own; two libraries have two sockets."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from ented_desktop.core.library import Library
from ented_desktop.gui.single_instance import PathServer, decode_paths, encode_paths, forward_paths, server_name

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "samples" / "astronaut.jpg"
START_TIMEOUT_S = 180  # two programs importing torch and Qt on 2 busy cores


def test_each_library_has_its_own_socket_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = server_name(tmp_path / "a")
    assert name == server_name(Path("a")) and name != server_name(tmp_path / "b")
    assert name.startswith("ented-desktop-") and len(name) < 64


def test_a_message_carries_absolute_paths_and_anything_else_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert decode_paths(encode_paths([Path("x.jpg"), tmp_path / "y"])) == [tmp_path / "x.jpg", tmp_path / "y"]
    for bad in (b"[1]\n", b'{"paths": [1]}\n', b"\xff\n", b"{}\n"):
        with pytest.raises(ValueError):
            decode_paths(bad)


@pytest.mark.skipif(sys.platform == "win32", reason="talks to the socket file directly")
def test_the_window_takes_paths_from_its_socket_and_acknowledges(qtbot, tmp_path):
    """The sender here is a plain socket in a thread: Qt's blocking socket calls keep Python's lock, so a Qt
    sender in this process would stall the window's side (the real sender is another process)."""
    server = PathServer(tmp_path / "library")
    assert server.listen()
    sent = [tmp_path / "Holiday", tmp_path / "a photo.jpg"]
    replies = []

    def send() -> None:
        with socket.socket(socket.AF_UNIX) as sender:
            sender.settimeout(10)
            sender.connect(server.address())
            sender.sendall(encode_paths(sent))
            replies.append(sender.recv(16))

    with qtbot.waitSignal(server.received, timeout=10_000) as arrived:
        client = threading.Thread(target=send)
        client.start()
    qtbot.waitUntil(lambda: not client.is_alive(), timeout=10_000)
    server.close()
    assert arrived.args == [sent] and replies == [b"ok\n"]


def test_nobody_listening_is_reported_not_waited_for_forever(qtbot, tmp_path):
    started = time.monotonic()
    assert forward_paths(tmp_path / "library", [tmp_path], connect_timeout=0.5) is False
    assert time.monotonic() - started < 5


def wait_for(predicate, what: str, process: subprocess.Popen, timeout: float = START_TIMEOUT_S):
    """Poll ``predicate`` (no fixed sleep decides anything) until it returns a value, the process dies or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"the first ented-desktop exited ({process.returncode}) before {what}")
        time.sleep(0.2)
    pytest.fail(f"no {what} after {timeout} s")


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@pytest.mark.slow
def test_a_second_program_hands_its_folder_to_the_first_and_exits(tmp_path):
    folder = tmp_path / "Holiday 1987"
    folder.mkdir()
    Image.open(SAMPLE).save(folder / "beach.jpg")
    Image.new("RGB", (64, 48), (200, 180, 150)).save(folder / "sky.png")
    env = dict(os.environ, ENTED_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]))
    env.pop("ENTED_MODEL_DIR", None)
    first_state, second_state = tmp_path / "first.json", tmp_path / "second.json"
    command = [sys.executable, "-m", "tests.gui.launch_app"]  # the app with the test hooks (tests/gui/app_hooks.py)
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, env=dict(env, ENTED_TEST_STATE=str(first_state)), cwd=tmp_path,
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: read_state(first_state), "window", first)
        second = subprocess.run([*command, folder.name], env=dict(env, ENTED_TEST_STATE=str(second_state)),
                                cwd=tmp_path, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        assert second.returncode == 0, second.stderr[-2000:]

        def imported():
            state = read_state(first_state)
            jobs = [j for j in (state or {}).get("jobs", []) if j["kind"] == "import"]
            return state if jobs and jobs[-1]["state"] == "done" and state["photos"] == 2 else None

        wait_for(imported, "import of the forwarded folder", first)
    finally:
        first.terminate()
        first.wait(timeout=60)
    assert not second_state.exists()  # the second program never made a window
    with Library(tmp_path / "data" / "library") as library:
        albums = library.albums.all()
        assert [(a.name, a.photo_count) for a in albums] == [("Holiday 1987", 2)]
