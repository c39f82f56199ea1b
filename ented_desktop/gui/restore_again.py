"""Restoring photos already restored the same way (core.restore_skip): find them before a restore job is queued,
ask whether to skip them or restore them again, and say which a job skipped."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QMessageBox, QWidget

from ented_desktop.core.library import Library, UnknownItemError
from ented_desktop.core.restore_job import start_run
from ented_desktop.core.restore_skip import RestoreSkipPlan, plan_library_restore
from ented_desktop.core.wording import count

if TYPE_CHECKING:
    from ented_desktop.gui.tasks import Services

SKIP, AGAIN, CANCEL = "skip", "again", "cancel"  # answers to "restore the photos restored this way again?"


def plan_restore_job(library: Library, services: Services, photo_ids: list[int],
                     choice: Mapping[str, Any]) -> RestoreSkipPlan:
    """Which of ``photo_ids`` a restore job with ``choice`` would skip as already restored this way, before it is
    queued (to ask). Loads the run's models, as the job would (they stay loaded for it); cheap when none of the
    photos has a version."""
    if not set(photo_ids) & library.versions.restored_photo_ids():
        return RestoreSkipPlan((), tuple(dict.fromkeys(photo_ids)), ())
    run = start_run(services.restore_settings(choice), services.load)
    return plan_library_restore(library, photo_ids, run.record)


def skipped_sentence(library: Library, photo_ids: Collection[int]) -> str:
    """"Skipped 2 photos already restored this way: a.jpg, b.jpg." (the first three named)."""
    names = []
    for photo_id in list(photo_ids)[:3]:
        with contextlib.suppress(UnknownItemError):
            names.append(library.photos.get(photo_id).path.name)
    more = "…" if len(photo_ids) > len(names) else ""
    return f"Skipped {count(len(photo_ids), 'photo')} already restored this way: {', '.join(names)}{more}."


def ask_restore_again(parent: QWidget, plan: RestoreSkipPlan) -> str:
    """Ask what to do with the photos already restored this way: :data:`SKIP` them (restore the others),
    restore everything :data:`AGAIN`, or :data:`CANCEL`."""
    box = QMessageBox(QMessageBox.Icon.Question, "Restore", "", parent=parent)
    if not plan.to_restore and len(plan.skipped) == 1:
        box.setText("This photo was already restored this way. Restoring it again would make the same version "
                    "again. Restore it again?")
    else:
        box.setText(f"{plan.sentence()} Restoring a photo again the same way makes the same version again.")
    buttons = {}
    if plan.to_restore:
        buttons[box.addButton(f"Restore {count(len(plan.to_restore), 'photo')}",
                              QMessageBox.ButtonRole.AcceptRole)] = SKIP
    again = "Restore it again" if len(plan.skipped) + len(plan.to_restore) == 1 else "Restore all again"
    buttons[box.addButton(again, QMessageBox.ButtonRole.DestructiveRole)] = AGAIN
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(next(iter(buttons)) if plan.to_restore else cancel)
    box.exec()
    return buttons.get(box.clickedButton(), CANCEL)
