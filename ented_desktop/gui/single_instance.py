"""One window per photo library: a second ``ented-desktop`` hands the paths it was given to the window
that has the library open, then exits.

Which program is first is decided by the library's own lock (:mod:`ented_desktop.core.library.lock`): the
program that opened the library listens on a local socket named after the library folder, so two libraries
(``ENTED_DATA_DIR``) each have their window. A program that finds the library locked connects to that socket,
sends one JSON line ``{"paths": [...]}`` and waits for ``ok``; an empty list asks the window to come to the
front. Paths are made absolute by the sender, whose working folder the window does not know.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

ACK = b"ok\n"
MAX_MESSAGE_BYTES = 1_000_000  # a few thousand paths; more is not a file manager's "Open with"
# The window listens a moment after it locks the library; a second program started in that moment retries.
CONNECT_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 10.0


def server_name(library_dir: Path) -> str:
    """The socket's name: the user and the library folder, hashed (a socket name has a short length limit)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name to be had (a container without a passwd entry)
        user = ""
    digest = hashlib.sha256(f"{user}\0{Path(library_dir).resolve()}".encode()).hexdigest()
    return f"ented-desktop-{digest[:24]}"


def encode_paths(paths: list[Path]) -> bytes:
    return json.dumps({"paths": [str(Path(p).absolute()) for p in paths]}).encode() + b"\n"


def decode_paths(data: bytes) -> list[Path]:
    """The paths of a message; ValueError for anything that is not one."""
    message = json.loads(data.decode())
    if not isinstance(message, dict) or not isinstance(message.get("paths"), list) or \
            not all(isinstance(p, str) for p in message["paths"]):
        raise ValueError("not a {'paths': [str, ...]} message")
    return [Path(p) for p in message["paths"]]


def forward_paths(library_dir: Path, paths: list[Path], connect_timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Hand ``paths`` to the window that has ``library_dir`` open; False when no window took them in time."""
    socket = QLocalSocket()
    deadline = time.monotonic() + connect_timeout
    while True:
        socket.connectToServer(server_name(library_dir))
        if socket.waitForConnected(1000):
            break
        socket.abort()
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)  # not listening yet (it is opening the library) or a stale socket; ask again
    socket.write(encode_paths(paths))
    if not socket.waitForBytesWritten(int(REPLY_TIMEOUT_S * 1000)):
        return False
    reply = b""
    while not reply.endswith(b"\n"):
        # Waiting for the write may already have read the reply, and waitForReadyRead waits for more.
        if not socket.bytesAvailable() and not socket.waitForReadyRead(int(REPLY_TIMEOUT_S * 1000)):
            break
        reply += bytes(socket.readAll().data())
    socket.abort()
    return reply == ACK


class PathServer(QObject):
    """Listens for :func:`forward_paths` while this program has the library open; ``received`` carries the paths."""

    received = Signal(list)  # list[Path]

    def __init__(self, library_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(library_dir)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._buffers: dict[QLocalSocket, bytearray] = {}  # what each connection sent so far

    def listen(self) -> bool:
        """Start listening; False (logged) when the socket cannot be made. Only the holder of the library lock
        calls this, so a socket already there is a crashed window's and is removed first."""
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            return True
        log.warning("a second ENTED Desktop cannot hand its photos to this window: %s", self._server.errorString())
        return False

    def address(self) -> str:
        """Where it listens: a socket file on Unix, a named pipe on Windows."""
        return self._server.fullServerName()

    def close(self) -> None:
        self._server.close()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(self._on_ready)
            socket.disconnected.connect(self._on_disconnected)
            if socket.bytesAvailable():
                self._read(socket)

    def _on_ready(self) -> None:
        self._read(self.sender())

    def _on_disconnected(self) -> None:
        socket = self.sender()
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _read(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket)
        if buffer is None:  # already answered
            return
        buffer += bytes(socket.readAll().data())
        if len(buffer) > MAX_MESSAGE_BYTES:
            log.warning("a message of over %d bytes on %s was dropped", MAX_MESSAGE_BYTES, self.name)
            socket.abort()
            return
        if not buffer.endswith(b"\n"):
            return
        del self._buffers[socket]
        try:
            paths = decode_paths(bytes(buffer))
        except ValueError as exc:
            log.warning("a message on %s that is not a list of paths was dropped (%s)", self.name, exc)
            socket.abort()
            return
        socket.write(ACK)
        socket.flush()
        socket.disconnectFromServer()
        self.received.emit(paths)
