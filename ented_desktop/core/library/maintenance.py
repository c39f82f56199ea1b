"""Housekeeping: removing what an interrupted write left in the library folder, and checking the library is sound."""

from __future__ import annotations

from pathlib import Path

from ented_desktop.core.library.connection import LibraryConnection


class Maintenance:
    """``Library.maintenance``."""

    def __init__(self, db: LibraryConnection) -> None:
        self._db = db

    def remove_leftovers(self) -> list[Path]:
        """Delete what an interrupted write can leave in the library folder: temporary files and
        version or reference files no row points to, and the folders of photos and people that have none left.
        Call it before starting background work: a restore could be writing into such a folder."""
        conn = self._db.conn()
        known = {r["file"] for r in conn.execute("SELECT file FROM versions")}
        known |= {
            r["reference_image"]
            for r in conn.execute("SELECT reference_image FROM people WHERE reference_image IS NOT NULL")
        }
        removed = []
        for top in ("versions", "references"):
            base = self._db.directory / top
            if not base.is_dir():
                continue
            for path in base.glob("*/*"):
                if path.is_file() and self._db.rel(path) not in known:  # temporary files are never known
                    path.unlink(missing_ok=True)
                    removed.append(path)
            for folder in base.iterdir():
                if folder.is_dir() and not any(folder.iterdir()):
                    try:
                        folder.rmdir()
                    except OSError:  # in use elsewhere (a shell's current folder on Windows): next time
                        continue
                    removed.append(folder)
        return removed

    def integrity_problems(self) -> list[str]:
        """SQLite's integrity and foreign key checks plus the library's own invariants; empty when sound."""
        conn = self._db.conn()
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {tuple(r)}" for r in conn.execute("PRAGMA foreign_key_check")]
        for r in conn.execute("SELECT id, file FROM versions"):
            if not self._db.abs(r["file"]).is_file():
                problems.append(f"version {r['id']}: file {r['file']} is missing")
        for r in conn.execute("SELECT id, reference_image FROM people WHERE reference_image IS NOT NULL"):
            if not self._db.abs(r["reference_image"]).is_file():
                problems.append(f"person {r['id']}: reference image {r['reference_image']} is missing")
        return problems
