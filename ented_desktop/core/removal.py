"""What deleting an album, taking photos out of one or deleting a restored version does, in numbers and in words.

Photos left in no album leave the library with their faces and restored versions (``lib.albums.delete``); the
user is told how many, before anything happens. Originals on disk are never touched. The app asks its question
with these (gui.removal); nothing here needs Qt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ented_desktop.core.library import Library, UnknownItemError
from ented_desktop.core.wording import count


class QueuedJob(Protocol):
    """A job of the app's queue (gui.job_queue.JobEntry), as the removal question reads it."""

    kind: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class RemovalCost:
    """What taking photos out of an album does."""

    album: str
    taken: tuple[int, ...]  # photos taken out of the album
    leaving: tuple[int, ...]  # those in no other album: they leave the library
    versions: tuple[int, ...]  # every restored version of the leaving photos: deleted with them
    newest: tuple[int, ...]  # the newest restored version of each leaving photo that has one
    references: tuple[str, ...]  # people whose reference face is on a leaving photo
    name: str | None = None  # the file name of the photo when only one is taken

    @property
    def photos(self) -> int:
        return len(self.taken)


def removal_cost(library: Library, album_id: int, photo_ids: Collection[int] | None = None) -> RemovalCost:
    """What deleting the album (``photo_ids`` None) or taking ``photo_ids`` out of it would do. Database queries
    only, a few per photo (some 60 ms for 2,000 photos): asked before the question, off the main thread, and
    again once it is answered, on the main thread just before removing."""
    album = library.albums.get(album_id)
    wanted = None if photo_ids is None else set(photo_ids)
    taken = [p for p in library.photos.all(album_id) if wanted is None or p.id in wanted]
    leaving = [p.id for p in taken if library.photos.albums_of(p.id) == [album_id]]
    restored = library.versions.restored_photo_ids(album_id)
    versions: list[int] = []
    newest: list[int] = []
    for photo_id in leaving:
        ids = [v.id for v in library.versions.of_photo(photo_id)] if photo_id in restored else []
        versions += ids
        newest += ids[-1:]
    gone = set(leaving)
    references = []
    for person in library.people.all():
        if person.reference_face_id is not None:
            with contextlib.suppress(UnknownItemError):  # a face removed meanwhile: no reference to lose
                if library.faces.get(person.reference_face_id).photo_id in gone:
                    references.append(person.name)
    return RemovalCost(album.name, tuple(p.id for p in taken), tuple(leaving), tuple(versions), tuple(newest),
                       tuple(references), taken[0].path.name if len(taken) == 1 else None)


def more_lost(asked: RemovalCost, now: RemovalCost) -> bool:
    """Whether removing now loses more than the question said: a restored version or a reference it did not
    count, or a photo it said would stay that would now leave the library. Photos that came into the album since
    (an import into it, which the question said will stop) are not counted again: the originals stay on disk,
    and any restored version of theirs is counted."""
    return (not set(now.versions) <= set(asked.versions) or not set(now.references) <= set(asked.references)
            or bool((set(now.leaving) - set(asked.leaving)) & set(asked.taken)))


def _them(n: int) -> str:
    return "it" if n == 1 else "them"


def _it(n: int) -> str:
    return "it" if n == 1 else "they"


def removal_details(cost: RemovalCost) -> list[str]:
    """What happens to the photos, their restored versions and the people's references, one sentence each."""
    lines = ["The original files on disk are not touched."]
    n, kept, versions = len(cost.leaving), cost.photos - len(cost.leaving), len(cost.versions)
    if cost.photos == 0:
        return lines + ["The album is empty."]
    if kept:
        lines.append(f"{count(kept, 'photo')} {'is' if kept == 1 else 'are'} also in another album and "
                     f"{'stays' if kept == 1 else 'stay'} in the library.")
    if n:
        lines.append(f"{count(n, 'photo')} {'is' if n == 1 else 'are'} in no other album: "
                     f"{'it leaves' if n == 1 else 'they leave'} the library, with {'its' if n == 1 else 'their'} "
                     "faces.")
        if versions:
            lines.append(f"{count(versions, 'restored version')} of {'this photo' if n == 1 else 'these photos'} "
                         f"will be deleted. Export first to keep {_them(versions)}.")
        else:
            lines.append("No restored version is deleted: " + ("it has" if n == 1 else "none of them has")
                         + " been restored.")
    if len(cost.references) == 1:
        name = cost.references[0]
        lines.append(f"{name}'s reference face is on {'this photo' if n == 1 else 'one of these photos'}: "
                     f"{name} will need a new reference.")
    elif cost.references:
        lines.append(f"The reference faces of {' and '.join(cost.references)} are on these photos: they will "
                     "need new references.")
    return lines


def removal_summary(done: RemovalCost, *, album_deleted: bool) -> str:
    """The status message once the album is deleted or the photos are taken out of it; ``done`` is what was
    counted just before."""
    n, gone = done.photos, len(done.leaving)
    kept, versions = n - gone, len(done.versions)
    stays = ("stays in the library (it is in another album)" if kept == 1 else
             "stay in the library (they are in other albums)")
    if album_deleted:
        head = f'Deleted the album "{done.album}"'
        if not n:
            return head + " (it was empty)."
        if not gone:
            return f"{head}; {'its photo' if n == 1 else f'its {n} photos'} {stays}."
        left = f"{count(gone, 'photo')} left the library"  # the others are in other albums: no news
    else:
        head = f'Removed {count(n, "photo")} from "{done.album}"'
        if not gone:
            return f"{head}; {_it(n)} {stays}."
        left = f"{kept} {stays}; {count(gone, 'photo')} left the library" if kept else f"{_it(n)} left the library"
    if versions:
        left += f" and {count(versions, 'restored version')} {'was' if versions == 1 else 'were'} deleted"
    return f"{head}; {left}. The originals on disk are untouched."


def unfinished_job_notes(entries: Iterable[QueuedJob], photo_ids: Collection[int], version_ids: Collection[int],
                         deleted_album: int | None = None) -> list[str]:
    """What unfinished jobs do when these photos leave the library, these versions are deleted and (when not
    None) the album ``deleted_album`` is deleted."""
    photos, versions = set(photo_ids), set(version_ids)
    entries = list(entries)
    waiting = [photos.intersection(e.payload.get("photo_ids") or ()) for e in entries
               if e.kind in ("restore", "detect")]
    exporting = [versions.intersection(e.payload.get("version_ids") or ()) for e in entries if e.kind == "export"]
    importing = [e for e in entries if e.kind == "import" and deleted_album is not None
                 and e.payload.get("album_id") == deleted_album]
    notes = []
    if n := len(set().union(*waiting)):
        jobs = sum(1 for w in waiting if w)
        notes.append(f"{'An unfinished job includes' if jobs == 1 else 'Unfinished jobs include'} "
                     f"{count(n, 'photo')} that will leave the library; {'it' if jobs == 1 else 'they'} will skip "
                     f"{_them(n)}.")
    if n := len(set().union(*exporting)):
        jobs = sum(1 for x in exporting if x)
        notes.append(f"{'An unfinished export includes' if jobs == 1 else 'Unfinished exports include'} "
                     f"{count(n, 'restored version')} that will be deleted; {'it' if jobs == 1 else 'they'} will "
                     f"skip {_them(n)}.")
    if importing:
        notes.append("An import into this album is not finished; it will stop." if len(importing) == 1 else
                     f"{len(importing)} imports into this album are not finished; they will stop.")
    return notes
