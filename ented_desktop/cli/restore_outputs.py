"""Which files in an OUTDIR `ented restore` wrote itself, so that a later run replaces those and nothing else.

``OUTDIR/.ented-restore.json`` maps each output (its path under OUTDIR) to the SHA-256 of the file written. An
existing file may be replaced only while it is listed with that digest: a photo the user keeps in OUTDIR, or an
output edited since, is never overwritten. A file is listed after it is in place, so a run killed in between
leaves an output that a later run refuses to replace: the safe side. The name is hidden, so folder walks skip it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ented_desktop.core.atomic import write_text_atomic
from ented_desktop.core.errors import UserError

LOG_NAME = ".ented-restore.json"


def _sha256(path: Path) -> str:
    from ented_desktop.core.weights import sha256_file  # it imports torch: not for `ented restore --help`

    return sha256_file(path)


class WrittenOutputs:
    """The outputs recorded in ``outdir``'s log; an unreadable log counts as empty (then nothing is replaced)."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.log = outdir / LOG_NAME
        try:
            files = json.loads(self.log.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            files = {}
        self._digests = {k: v for k, v in files.items() if isinstance(v, str)} if isinstance(files, dict) else {}

    def _key(self, output: Path) -> str:
        return output.relative_to(self.outdir).as_posix()

    def replaceable(self, output: Path) -> bool:
        """Whether the existing file ``output`` is one this command wrote and nobody has changed since."""
        digest = self._digests.get(self._key(output))
        try:
            return digest is not None and _sha256(output) == digest
        except OSError:
            return False

    def record(self, output: Path) -> None:
        """List ``output``, just written, as this command's."""
        self._digests[self._key(output)] = _sha256(output)
        text = json.dumps({"written_by": "ented restore", "files": self._digests}, indent=1, sort_keys=True)
        try:
            write_text_atomic(self.log, text)
        except OSError as exc:
            raise UserError(f"restored, but {self.log} could not be updated ({exc.strerror or exc}), so a later "
                            "run will not replace this output") from exc
