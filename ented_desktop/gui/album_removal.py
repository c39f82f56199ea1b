"""Deleting an album, taking photos out of one and deleting a restored version: count in the background, ask
(saying what would be lost), count again, remove as a background change."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ented_desktop.core.library import UnknownItemError
from ented_desktop.core.removal import (
    RemovalCost,
    more_lost,
    removal_cost,
    removal_details,
    removal_summary,
    unfinished_job_notes,
)
from ented_desktop.core.wording import count
from ented_desktop.gui.album_list import ALL_PHOTOS
from ented_desktop.gui.background_calls import Changed
from ented_desktop.gui.export_dialog import ExportScope
from ented_desktop.gui.removal import Answer, ConfirmRemoval
from ented_desktop.gui.thumbnail_model import PhotoIdRole

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


class AlbumRemoval:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def delete_album(self) -> None:
        if self.window.current_album != ALL_PHOTOS:
            self._count_removal(self.window.current_album, None)

    def remove_selected_photos(self) -> None:
        if self.window.current_album == ALL_PHOTOS:
            self.window.status("Open an album to remove photos from it.")
            return
        # Only the photos shown selected: the grid's current photo is not highlighted once unselected (a
        # Ctrl+click, or the photo that took the place of removed ones), so it is never taken out unseen.
        ids = sorted({i.data(PhotoIdRole) for i in self.window.grid.selectionModel().selectedIndexes()})
        if not ids:
            self.window.status("Select the photos to remove first.")
            return
        self._count_removal(self.window.current_album, tuple(ids))

    def _count_removal(self, album_id: int, photo_ids: tuple[int, ...] | None) -> None:
        """Find out in the background what taking the photos (all: None) out of the album does, then ask."""
        library = self.window.library
        if self.window.calls.query(lambda: removal_cost(library, album_id, photo_ids),
                            lambda cost: self._confirm_removal(album_id, photo_ids, cost),
                            lambda message: self.window.album_failure(album_id, f"Nothing was removed: {message}"),
                            key=("removal", album_id, photo_ids)):
            self.window.status("Counting the photos and restored versions concerned…")

    def _confirm_removal(self, album_id: int, photo_ids: tuple[int, ...] | None, cost: RemovalCost) -> None:
        """Ask; once the user says remove, count again (jobs may have made restored versions meanwhile) and
        remove only if nothing more would be lost than the question said, else ask again with the new counts."""
        self.window.statusBar().clearMessage()  # "Counting…" is over
        if photo_ids is not None and not cost.photos:
            self.window.status("Those photos are no longer in the album.")
            return
        changed = False
        while True:
            answer = self._ask_removal(album_id, photo_ids, cost, changed)
            if answer == "export":
                self._export_before_removal(cost)
            if answer != "remove":
                return
            try:
                now = removal_cost(self.window.library, album_id, photo_ids)
            except UnknownItemError as exc:
                self.window.album_gone(f"Nothing was removed: {exc}")
                return
            if photo_ids is not None and not now.photos:
                self.window.status("Those photos are no longer in the album.")
                return
            if not more_lost(cost, now):
                self._remove(album_id, photo_ids, now)
                return
            cost, changed = now, True

    def _ask_removal(self, album_id: int, photo_ids: tuple[int, ...] | None, cost: RemovalCost,
                     changed: bool) -> Answer:
        if photo_ids is None:
            title, question, action = "Delete album", f'Delete the album "{cost.album}"?', "Delete album"
        else:
            title = action = "Remove from album"
            what = f'"{cost.name}"' if cost.name is not None else count(cost.photos, "photo")
            question = f'Remove {what} from the album "{cost.album}"?'
        details = removal_details(cost) + unfinished_job_notes(
            self.window.queue.active(), cost.leaving, cost.versions, album_id if photo_ids is None else None)
        if changed:
            details.insert(0, "Nothing was removed yet: while the question was open, unfinished jobs changed what "
                              "would be lost. These are the new counts.")
        box = ConfirmRemoval(title, question, details, action, can_export=bool(cost.versions), parent=self.window)
        answer = box.ask()
        box.deleteLater()
        return answer

    def _export_before_removal(self, cost: RemovalCost) -> None:
        n = len(cost.newest)
        scopes = [ExportScope(f"The newest restored version of {'the photo' if n == 1 else f'each of the {n} photos'} "
                              "leaving the library", cost.newest)]
        if len(cost.versions) > n:
            scopes.append(ExportScope(f"All {count(len(cost.versions), 'restored version')} that would be deleted",
                                      cost.versions))
        if self.window.photo_actions.export(scopes):
            self.window.jobs_dock.raise_()
            self.window.status("Exporting; nothing was removed. Remove the photos once the export is done.")

    def _remove(self, album_id: int, photo_ids: tuple[int, ...] | None, done: RemovalCost) -> None:
        """One transaction and the deletion of the restored versions' files, in the background. ``done`` was
        counted just before: no more than the user was told, and what the status message reports."""
        library = self.window.library
        taken = [p.id for p in library.photos.all(album_id)] if photo_ids is None else list(photo_ids)

        def remove() -> set[int]:
            library.albums.get(album_id)  # taking photos out of an album deleted meanwhile would do nothing
            if photo_ids is None:
                library.albums.delete(album_id)
            else:
                library.albums.remove_photos(album_id, photo_ids)
            return {i for i in taken if not library.photos.albums_of(i)}

        # Faces on the photos that left are gone, maybe a person's reference with them.
        what = Changed.ALBUMS | Changed.FACES | Changed.PEOPLE | Changed.VERSIONS
        self.window.calls.change(remove, what, lambda gone: self._removed(album_id, photo_ids, done, taken, gone),
                          lambda message: self.window.album_failure(album_id, f"Nothing was removed: {message}"))

    def _removed(self, album_id: int, photo_ids: tuple[int, ...] | None, done: RemovalCost, taken: list[int],
                 gone: set[int]) -> None:
        """The photos ``taken`` out of the album left the grid; those ``gone`` from the library left it for good."""
        self.window.detection.tried -= gone  # the library may give a deleted photo's id to the next photo imported
        if self.window.current_photo in gone:
            self.window.photos_page.show_no_photo()
        deleted_shown = photo_ids is None and self.window.current_album == album_id
        if deleted_shown:
            self.window.current_album = ALL_PHOTOS
        self.window.photos_page.refresh_albums()
        self.window.thumbnails.forget(gone)
        if deleted_shown:
            self.window.photos_page.show_album(ALL_PHOTOS)
        else:
            self.window.thumbnails.remove_photos(taken if self.window.current_album == album_id else gone)
            self.window.grid_empty.setVisible(not self.window.thumbnails.rowCount())
            if not self.window.thumbnails.rowCount():
                self.window.photos_page.show_no_photo()
            elif self.window.current_photo is None:  # the grid moved its current row next to the removed ones
                grid = self.window.grid
                index = grid.currentIndex() if grid.currentIndex().isValid() else self.window.thumbnails.index(0)
                self.window.grid.setCurrentIndex(index)
                self.window.photos_page.select_photo(index.data(PhotoIdRole))
        self.window.status(removal_summary(done, album_deleted=photo_ids is None))

    def delete_version(self) -> None:
        photo_id, version_id = self.window.current_photo, self.window.current_version
        if photo_id is None or version_id is None:
            return
        try:
            name = self.window.library.photos.get(photo_id).path.name
            version = self.window.library.versions.get(version_id)
        except UnknownItemError as exc:
            self.window.warn(str(exc))
            self.window.compare_tab.refresh_versions()
            return
        number = [v.id for v in self.window.library.versions.of_photo(photo_id)].index(version_id) + 1
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(version.created))
        details = [f"It was made with {version.model} on {made}. Its file in the library will be deleted; the "
                   "original photo, the other restored versions and any copies you exported are not touched.",
                   *unfinished_job_notes(self.window.queue.active(), (), (version_id,))]
        box = ConfirmRemoval("Delete restored version", f'Delete restored version {number} of "{name}"?', details,
                             "Delete version", can_export=True, parent=self.window)
        answer = box.ask()
        box.deleteLater()
        if answer == "export":
            if self.window.photo_actions.export([ExportScope(f"Restored version {number} of {name}", (version_id,))]):
                self.window.status("Exporting; the version was not deleted.")
            return
        if answer != "remove":
            return
        library = self.window.library
        self.window.calls.change(lambda: library.versions.delete(version_id), Changed.VERSIONS,
                          lambda _: self._version_deleted(photo_id, version_id, f"Deleted restored version {number} "
                                                          f"of {name}; the original is untouched."),
                          lambda message: self._version_deleted(photo_id, version_id, message, warn=True))

    def _version_deleted(self, photo_id: int, version_id: int, message: str, warn: bool = False) -> None:
        """Said, and the versions there are now shown (a failure: the version was gone meanwhile)."""
        self.window.warn(message) if warn else self.window.status(message)
        left = [v.id for v in self.window.library.versions.of_photo(photo_id)]
        if not left:
            self.window.photos_page.mark_restored(photo_id, False)
        if self.window.current_photo == photo_id:  # the next newer version, else the newest left, else the original
            newer = next((i for i in left if i > version_id), left[-1] if left else None)
            self.window.compare_tab.refresh_versions(choose=newer)
