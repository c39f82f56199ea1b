"""Files that could not be used (imported, searched for faces, restored) and why, kept until the user dismisses them,
so that the list survives a restart."""

from __future__ import annotations

from collections.abc import Iterable

from ented_desktop.core.library.connection import LibraryConnection, now
from ented_desktop.core.library.records import Problem

_PROBLEM_SQL = "SELECT id, path, reason, source, seen FROM problems"


class Problems:
    """``Library.problems``."""

    def __init__(self, db: LibraryConnection) -> None:
        self._db = db

    def add(self, items: Iterable[tuple[str, str]], source: str = "") -> list[int]:
        """List (file, reason) pairs (an ImportProblem is one) found while doing ``source`` (e.g. the dropped
        folder, "face detection"); returns their ids in the order given. A problem already listed (same file, same
        reason) keeps its id and moves to the end with the new ``source``."""
        ids = []
        seen = now()
        with self._db.write() as conn:
            for path, reason in items:
                conn.execute(
                    "INSERT INTO problems (path, reason, source, seen) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (path, reason) DO UPDATE SET source = excluded.source, seen = excluded.seen",
                    (str(path), str(reason), source, seen),
                )
                row = conn.execute("SELECT id FROM problems WHERE path = ? AND reason = ?",
                                   (str(path), str(reason))).fetchone()
                ids.append(int(row["id"]))
        return ids

    def all(self) -> list[Problem]:
        """Every listed problem, the one seen longest ago first."""
        rows = self._db.conn().execute(_PROBLEM_SQL + " ORDER BY seen, id")
        return [Problem(r["id"], r["path"], r["reason"], r["source"], r["seen"]) for r in rows]

    def dismiss(self, problem_ids: Iterable[int]) -> None:
        """Forget these problems (ids no longer listed are ignored)."""
        with self._db.write() as conn:
            conn.executemany("DELETE FROM problems WHERE id = ?", [(int(i),) for i in problem_ids])

    def clear(self) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM problems")
