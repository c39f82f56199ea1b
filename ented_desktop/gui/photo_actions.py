"""Restore, find faces and export for the selected photos, an album or a person: what is asked of the job queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from ented_desktop.core.restore_skip import RestoreSkipPlan
from ented_desktop.core.wording import count
from ented_desktop.gui.album_list import ALL_PHOTOS
from ented_desktop.gui.export_dialog import ExportDialog, ExportScope, selection_label
from ented_desktop.gui.restore_again import AGAIN, CANCEL, ask_restore_again, plan_restore_job
from ented_desktop.gui.tabs import TAB_COMPARE
from ented_desktop.gui.tasks import restore_choice
from ented_desktop.gui.thumbnail_model import PhotoIdRole

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


class PhotoActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def _restore(self, photo_ids: list[int], title: str) -> None:
        """Queue a restore job, after asking about the photos already restored this way (same models, people and
        references: restoring them again would make identical versions)."""
        if not photo_ids:
            self.window.status("Select photos to restore first.")
            return
        options = self.window.restore_options  # the chosen model, fidelity and background (gui.restore_options)
        payload = {"photo_ids": photo_ids, "title": title + options.summary(), **options.payload(), "skip_same": True}
        library, services, choice = self.window.library, self.window.services, restore_choice(payload)
        if not set(photo_ids) & library.versions.restored_photo_ids():  # none restored yet: nothing to ask
            self._submit_restore(payload, title)
            return
        self.window.status(f"{title}: looking for photos already restored this way…")
        self.window.calls.query(lambda: plan_restore_job(library, services, photo_ids, choice),
                                lambda plan: self._restore_planned(plan, payload, title),
                                lambda _message: self._submit_restore(payload, title))  # the job will say why

    def _restore_planned(self, plan: RestoreSkipPlan, payload: dict[str, Any], title: str) -> None:
        if plan.skipped:
            answer = ask_restore_again(self.window, plan)
            if answer == CANCEL:
                self.window.status(f"{title}: cancelled.")
                return
            change = {"skip_same": False} if answer == AGAIN else {"photo_ids": list(plan.to_restore)}
            payload = {**payload, **change}
        self._submit_restore(payload, title)

    def _submit_restore(self, payload: dict[str, Any], title: str) -> None:
        self.window.queue.submit("restore", payload)
        self.window.jobs_dock.raise_()
        self.window.status(f"{title}: queued.")

    def restore_selected(self) -> None:
        ids = self.window.photos_page.selected_photo_ids()
        self._restore(ids, f"Restore {count(len(ids), 'photo')}")

    def restore_album(self) -> None:
        album_id = None if self.window.current_album == ALL_PHOTOS else self.window.current_album
        ids = [p.id for p in self.window.library.photos.all(album_id)]
        name = "all photos" if album_id is None else self.window.library.albums.get(album_id).name
        self._restore(ids, f"Restore {name}")

    def restore_person(self, person_id: int | None) -> None:
        if person_id is None:
            return
        ids = sorted({f.photo_id for f in self.window.library.faces.of_person(person_id)})
        name = self.window.library.people.get(person_id).name
        if not ids:
            self.window.status(f"{name} has no faces yet, so there are no photos of them to restore.")
            return
        self._restore(ids, f"Restore photos of {name}")

    def find_faces_selected(self) -> None:
        ids = self.window.photos_page.selected_photo_ids()
        if ids:
            self.window.detection.submit_detection(ids)

    def _latest_versions(self, photo_ids: list[int]) -> tuple[int, ...]:
        """The newest version of each of the photos that has one."""
        return tuple(versions[-1].id for versions in map(self.window.library.versions.of_photo, photo_ids) if versions)

    def export_scopes(self) -> list[ExportScope]:
        """What Export offers: the selected photos when several are selected; else this photo (the version
        shown in Compare) and every restored photo of the album. Empty when none of them is restored."""
        selected = sorted({i.data(PhotoIdRole) for i in self.window.grid.selectionModel().selectedIndexes()})
        shown = self.window.current_version if self.window.tabs.currentIndex() == TAB_COMPARE else None
        if len(selected) > 1 and shown is None:
            ids = self._latest_versions(selected)
            return [ExportScope(selection_label(len(selected), len(ids)), ids)] if ids else []
        scopes = []
        this: tuple[int, ...] = ()
        if shown is not None:
            this = (shown,)
        elif self.window.current_photo is not None:
            this = self._latest_versions([self.window.current_photo])
        if this and self.window.current_photo is not None:
            name = self.window.library.photos.get(self.window.current_photo).path.name
            scopes.append(ExportScope(f"This photo ({name})", this))
        album = None if self.window.current_album == ALL_PHOTOS else self.window.current_album
        everything = self._latest_versions(sorted(self.window.library.versions.restored_photo_ids(album)))
        if everything and everything != this:
            where = "the library" if album is None else self.window.library.albums.get(album).name
            scopes.append(ExportScope(f"{count(len(everything), 'restored photo')} in {where}", everything))
        return scopes

    def export_selected(self) -> None:
        scopes = self.export_scopes()
        if not scopes:
            self.window.warn("None of these photos has been restored yet; restore them before exporting.")
            return
        self.export(scopes)

    def export(self, scopes: list[ExportScope]) -> bool:
        """Ask where and how, then queue the export; False when the user cancelled."""
        dialog = ExportDialog(scopes, self.window.settings, self.window.export_folder, self.window,
                              settings_path=self.window.settings_path)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return False
        self.window.settings = dialog.settings()  # the format, quality and names chosen: next time's start
        choice = dialog.choice()
        self.window.export_folder = choice.dest
        self.window.queue.submit("export", {"version_ids": list(choice.version_ids), "dest": choice.dest,
                                     "format": choice.format, "quality": choice.quality, "pattern": choice.pattern,
                                     "title": f"Export {count(len(choice.version_ids), 'photo')}"})
        return True

    def open_export_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self.window.export_folder))
