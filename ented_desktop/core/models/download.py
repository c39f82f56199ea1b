"""Downloading one file over HTTP(S) into a folder: progress with ETA, resume after a dropped connection (HTTP
Range), cancel, and nothing kept that does not match the expected size and sha256.

The bytes go to ``.NAME.part`` in the destination folder; only a complete file with the right size and sha256 is
moved (``os.replace``) to ``NAME``. A connection that drops is retried from where it stopped; a part left by a
download that failed is resumed by the next one. A cancelled download leaves nothing behind.
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..weights import sha256_file

CHUNK = 1 << 16
USER_AGENT = "ENTED-Desktop-model-manager"


class DownloadError(UserError):
    """A download that failed: offline, refused, incomplete or not the expected file."""


class DownloadCancelled(UserError):
    """The user stopped the download; its partial file was deleted."""


@dataclass(frozen=True)
class DownloadProgress:
    done: int                 # bytes on disk so far
    total: int                # bytes expected
    bytes_per_s: float        # average speed of this download
    eta_s: float | None       # seconds left at that speed; None before anything arrived

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


ProgressFn = Callable[[DownloadProgress], None]
AbortFn = Callable[[], bool]


def _offline_reason(exc: BaseException) -> str | None:
    """Why the server cannot be reached at all, or None when it is another failure."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        return "its address cannot be resolved"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(reason, TimeoutError):
        return "it does not answer"
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "the network is unreachable"
    return None


class _Transfer:
    """One download's state: the part file, the clock and the callbacks."""

    def __init__(self, url: str, part: Path, size: int, progress: ProgressFn | None, abort: AbortFn | None,
                 timeout: float) -> None:
        self.url, self.part, self.size, self.timeout = url, part, size, timeout
        self.progress, self.abort = progress, abort
        self.started = time.monotonic()
        self.first_byte = part.stat().st_size if part.exists() else 0
        self.last_report = 0.0

    def report(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if self.progress is None or (not force and now - self.last_report < 0.1):
            return
        self.last_report = now
        elapsed = max(now - self.started, 1e-6)
        speed = (done - self.first_byte) / elapsed
        eta = (self.size - done) / speed if speed > 0 else None
        self.progress(DownloadProgress(done, self.size, speed, eta))

    def check_abort(self) -> None:
        if self.abort is not None and self.abort():
            raise DownloadCancelled("Download cancelled; its partial file was deleted.")

    def fetch(self) -> None:
        """Append the rest of the file to the part file (one connection)."""
        have = self.part.stat().st_size if self.part.exists() else 0
        if have >= self.size:
            return
        request = urllib.request.Request(self.url, headers={"User-Agent": USER_AGENT})
        if have:
            request.add_header("Range", f"bytes={have}-")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if have and response.status != 206:  # the server ignored the range: start again from the first byte
                have = 0
            with open(self.part, "ab" if have else "wb") as out:
                self.report(have, force=True)
                while True:
                    self.check_abort()
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    have += len(block)
                    self.report(have)
                    if have > self.size:
                        break
            self.report(have, force=True)


def download_file(
    url: str,
    dest: Path,
    *,
    size: int,
    sha256: str,
    progress: ProgressFn | None = None,
    abort: AbortFn | None = None,
    retries: int = 5,
    timeout: float = 30.0,
    retry_wait: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` and return it, only once it has ``size`` bytes and this ``sha256``.

    A dropped connection is resumed with an HTTP Range request, up to ``retries`` times in a row without progress.
    ``abort()`` returning True (or Ctrl-C) stops it and deletes the part file (:class:`DownloadCancelled`).
    Raises :class:`DownloadError` with one sentence when the server cannot be reached or the file is not the
    expected one (which is then deleted).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.part")
    transfer = _Transfer(url, part, size, progress, abort, timeout)
    failures = 0
    try:
        while True:
            transfer.check_abort()
            before = part.stat().st_size if part.exists() else 0
            try:
                transfer.fetch()
            except urllib.error.HTTPError as exc:
                if exc.code == 416:  # the server's file ends where the part file does: check what arrived
                    break
                raise DownloadError(f"The server refused the download of {dest.name} ({exc.code} {exc.reason}); "
                                    "try again later, or download it in a browser and use `ented models import "
                                    "FILE`.") from exc
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
                offline = _offline_reason(exc)
                now = part.stat().st_size if part.exists() else 0
                if offline and now == transfer.first_byte:  # not one byte arrived: no point in retrying
                    raise DownloadError(
                        f"Cannot download {dest.name}: {offline} ({url}); this computer seems to be offline. "
                        f"Download the file on a computer that is online and install it with "
                        f"`ented models import {dest.name}`."
                    ) from exc
                failures = 0 if now > before else failures + 1
                if failures > retries:
                    raise DownloadError(
                        f"The download of {dest.name} kept failing ({exc}); {now} of {size} bytes are kept and the "
                        "same command resumes from there."
                    ) from exc
                time.sleep(retry_wait * min(failures, 5))
                continue
            have = part.stat().st_size if part.exists() else 0
            if have >= size or have == before:  # complete, or the server closed the file early without an error
                break
    except (DownloadCancelled, KeyboardInterrupt):
        part.unlink(missing_ok=True)
        raise
    _verify(part, dest.name, size, sha256)
    os.replace(part, dest)
    return dest


def _verify(part: Path, name: str, size: int, sha256: str) -> None:
    """Delete ``part`` and raise unless it has exactly ``size`` bytes and this sha256."""
    got = part.stat().st_size if part.exists() else 0
    if got != size:
        part.unlink(missing_ok=True)
        raise DownloadError(f"The download of {name} has {got} bytes instead of {size}; it was deleted.")
    digest = sha256_file(part)
    if digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"The download of {name} is not the expected file (sha256 {digest[:12]}... instead of "
            f"{sha256[:12]}...); it was deleted."
        )
