"""Downloads against a local HTTP server: progress, resume after a dropped connection, wrong sha256, cancel,
offline. ``FileServer`` is also used by the other model-manager tests."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from ented_desktop.core.models.catalogue import catalogue_entry, download_url
from ented_desktop.core.models.download import DownloadCancelled, DownloadError, download_file
from ented_desktop.core.models.install import LicenceNotAccepted, install_from_catalogue


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        name = unquote(self.path.lstrip("/"))
        srv = self.server
        srv.requests.append((name, self.headers.get("Range")))
        data = srv.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and srv.ranges:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        drop = srv.drop_after.pop(name, None)
        if drop is not None:  # send part of the body, then cut the connection as a flaky network would
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        for i in range(0, len(body), srv.chunk):
            self.wfile.write(body[i:i + srv.chunk])
            if srv.pace:
                srv.pace.wait(0.002)

    def log_message(self, *args) -> None:
        pass


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` (name -> bytes) on 127.0.0.1 with HTTP Range; ``drop_after[name] = n`` cuts the next
    response for ``name`` after n bytes; ``ranges = False`` makes it ignore Range headers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.drop_after: dict[str, int] = {}
        self.ranges = True
        self.chunk = 1 << 16
        self.pace: threading.Event | None = None
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
def server():
    srv = FileServer()
    srv.thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    srv.thread.join(5)


def _payload(n: int = 1_000_003) -> tuple[bytes, str]:
    data = os.urandom(n)
    return data, hashlib.sha256(data).hexdigest()


def test_download_reports_progress_and_verifies(server, tmp_path):
    data, digest = _payload()
    server.files["w.pth"] = data
    server.chunk, server.pace = 1 << 14, threading.Event()  # slow enough for several progress reports
    seen = []
    out = download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data), sha256=digest, progress=seen.append)
    assert out.read_bytes() == data
    assert len(seen) >= 3
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].done == seen[-1].total == len(data) and seen[-1].eta_s == 0
    assert any(p.eta_s is not None and p.eta_s > 0 for p in seen[:-1])
    assert list(tmp_path.iterdir()) == [out]  # no part file left


def test_download_resumes_after_dropped_connection(server, tmp_path):
    data, digest = _payload()
    server.files["w.pth"] = data
    server.drop_after["w.pth"] = 400_000
    out = download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data), sha256=digest, retry_wait=0)
    assert out.read_bytes() == data
    assert server.requests == [("w.pth", None), ("w.pth", "bytes=400000-")]


def test_download_resumes_a_part_left_by_an_earlier_run(server, tmp_path):
    data, digest = _payload()
    server.files["w.pth"] = data
    (tmp_path / ".w.pth.part").write_bytes(data[:123_456])
    download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data), sha256=digest)
    assert server.requests == [("w.pth", "bytes=123456-")]
    assert (tmp_path / "w.pth").read_bytes() == data


def test_download_restarts_when_the_server_ignores_ranges(server, tmp_path):
    data, digest = _payload()
    server.files["w.pth"], server.ranges = data, False
    server.drop_after["w.pth"] = 300_000
    download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data), sha256=digest, retry_wait=0)
    assert (tmp_path / "w.pth").read_bytes() == data


def test_wrong_sha256_is_refused_and_deleted(server, tmp_path):
    data, _ = _payload()
    server.files["w.pth"] = data
    with pytest.raises(DownloadError, match="not the expected file.*deleted"):
        download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data), sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_is_refused_and_deleted(server, tmp_path):
    data, digest = _payload()
    server.files["w.pth"] = data
    with pytest.raises(DownloadError, match=f"{len(data)} bytes instead of {len(data) + 1}.*deleted"):
        download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data) + 1, sha256=digest)
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_and_leaves_nothing(server, tmp_path):
    data, digest = _payload(3_000_000)
    server.files["w.pth"] = data
    server.chunk, server.pace = 1 << 14, threading.Event()
    got = []

    def abort() -> bool:
        return bool(got) and got[-1].done > 100_000

    with pytest.raises(DownloadCancelled):
        download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data), sha256=digest,
                      progress=got.append, abort=abort)
    assert list(tmp_path.iterdir()) == []
    assert got[-1].done < len(data)


def test_offline_says_so_and_how_to_import_instead(tmp_path):
    with socket.socket() as s:  # a port nobody listens on: the connection is refused, as when offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        download_file(f"http://127.0.0.1:{port}/GFPGANv1.4.pth", tmp_path / "GFPGANv1.4.pth", size=10,
                      sha256="0" * 64, retry_wait=0)
    message = str(info.value)
    assert "offline" in message and "ented models import GFPGANv1.4.pth" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_catalogue_download_refuses_a_file_that_is_not_the_catalogued_one(server, tmp_path):
    """The URL base is redirected to the test server; the catalogue's size and sha256 still apply."""
    entry = catalogue_entry("realesrgan-x2plus")
    server.files[entry.file_name] = bytes(entry.size_bytes)  # right size, wrong content
    with pytest.raises(DownloadError, match="not the expected file"):
        install_from_catalogue(entry.name, model_dir=tmp_path, url_base=server.base)
    assert list(tmp_path.iterdir()) == []
    assert download_url(entry, server.base) == server.url(entry.file_name)


def test_catalogue_download_url_base_from_the_environment(monkeypatch):
    entry = catalogue_entry("restoreformer++")
    assert download_url(entry) == entry.url
    monkeypatch.setenv("ENTED_MODELS_URL_BASE", "http://mirror.example/models/")
    assert download_url(entry) == "http://mirror.example/models/RestoreFormer%2B%2B.ckpt"


def test_non_commercial_licence_must_be_accepted(server, tmp_path):
    with pytest.raises(LicenceNotAccepted, match="non-commercial.*--accept-license"):
        install_from_catalogue("codeformer", model_dir=tmp_path, url_base=server.base)
    assert server.requests == [] and not any(Path(tmp_path).iterdir())


def test_ctrl_c_leaves_nothing(server, tmp_path):
    data, digest = _payload()
    server.files["w.pth"] = data

    def interrupt(progress) -> None:
        if progress.done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_file(server.url("w.pth"), tmp_path / "w.pth", size=len(data), sha256=digest, progress=interrupt)
    assert list(tmp_path.iterdir()) == []
