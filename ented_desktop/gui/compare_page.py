"""The Compare tab: any two versions of the photo side by side (the original and each restored version, chosen for
the left and the right side, each loaded in the background), how each was made in plain words with the technical
record behind a Details toggle, and what happened to each face, with the identity check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import UnknownItemError, Version
from ented_desktop.gui.compare_view import CompareView
from ented_desktop.gui.face_overlay import box_rect
from ented_desktop.gui.qimage import qimage_from_rgb
from ented_desktop.gui.tabs import TAB_COMPARE
from ented_desktop.gui.version_words import (
    face_line,
    version_description,
    version_details,
    version_label,
    version_title,
)

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


VERSION_TEXT_MAX_PX = 260  # longer version names (personal models') are elided, whole in their tooltip
COMPARE_BAR_MIN_PX = 48  # room for the toolbar's » menu alone
LEFT_TEXT_MAX_PX = 150  # the left side usually shows the original: its chooser leaves the room to the right one
# (its names are cut at the end, the model first: the whole name with the date is in the tooltip)
ORIGINAL = "Original"
FaceRole = Qt.ItemDataRole.UserRole  # the face's index in the photo, on each line of the face list


class ComparePage:
    """``window.version_combo`` chooses the right side (``window.current_version``, the version Delete and Export
    act on) and ``window.left_combo`` the left one (``window.left_version``: None for the original photo)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self._photo: int | None = None  # whose versions the choosers list

    # -- the choosers --------------------------------------------------------------------------------------
    def _fill(self, combo: QComboBox, versions: list[Version], first: tuple[str, None] | None,
              max_px: int = VERSION_TEXT_MAX_PX) -> None:
        combo.blockSignals(True)
        combo.clear()
        metrics = combo.fontMetrics()
        if first is not None:
            combo.addItem(*first)
        for number, version in enumerate(versions, 1):
            text = version_title(number, version)
            elide = Qt.TextElideMode.ElideMiddle if max_px == VERSION_TEXT_MAX_PX else Qt.TextElideMode.ElideRight
            combo.addItem(metrics.elidedText(text, elide, max_px), version.id)
            combo.setItemData(combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        combo.blockSignals(False)

    def refresh_versions(self, choose: int | None = None) -> None:
        """List the photo's versions again; the right side shows ``choose`` (by default the newest), the left one
        keeps its version while it is still there (else the original)."""
        w, photo_id = self.window, self.window.current_photo
        versions: list[Version] = w.library.versions.of_photo(photo_id) if photo_id else []
        left = w.left_version if photo_id == self._photo else None
        self._photo = photo_id
        self._fill(w.version_combo, versions, None)
        if not versions:
            w.version_combo.addItem("Not restored yet" if photo_id else "No photo selected", None)
        index = w.version_combo.findData(choose) if choose is not None else w.version_combo.count() - 1
        w.version_combo.blockSignals(True)
        w.version_combo.setCurrentIndex(max(0, index))
        w.version_combo.blockSignals(False)
        self._fill(w.left_combo, versions, (ORIGINAL, None), LEFT_TEXT_MAX_PX)
        w.left_combo.blockSignals(True)
        w.left_combo.setCurrentIndex(max(0, w.left_combo.findData(left)) if left is not None else 0)
        w.left_combo.blockSignals(False)
        self._on_left_chosen(show=False)
        self._on_version_chosen()

    def _version(self, version_id: int | None) -> Version | None:
        if version_id is None:
            return None
        try:
            return self.window.library.versions.get(version_id)
        except UnknownItemError:  # deleted meanwhile: the next refresh lists what is left
            return None

    def _load(self, version: Version, side: str) -> None:
        path, version_id = version.path, version.id
        self.window.calls.query(lambda: qimage_from_rgb(read_image_rgb8(path)),
                                lambda image: self._version_loaded(side, version_id, image), self.window.status,
                                key=(side, version_id))

    def _on_left_chosen(self, *_: object, show: bool = True) -> None:
        w = self.window
        w.left_version = w.left_combo.currentData()
        w.left_combo.setToolTip(w.left_combo.currentData(Qt.ItemDataRole.ToolTipRole) or "The photo as it was added")
        w.left_image = None
        version = self._version(w.left_version)
        if version is not None:
            self._load(version, "left")
        if show:
            self._describe()
            self.show_compare()

    def _on_version_chosen(self, *_: object) -> None:
        w = self.window
        version_id = w.version_combo.currentData()
        w.version_combo.setToolTip(w.version_combo.currentData(Qt.ItemDataRole.ToolTipRole) or "")
        w.current_version = version_id
        w.version_image = None
        w.act_delete_version.setEnabled(version_id is not None)
        version = self._version(version_id)
        self._describe()
        if version is None:
            self.show_compare()
            return
        self._load(version, "version")

    def _version_loaded(self, side: str, version_id: int, image: QImage) -> None:
        w = self.window
        if side == "left" and version_id == w.left_version:
            w.left_image = image
            self.show_compare()
        elif side == "version" and version_id == w.current_version:
            w.version_image = image
            self.show_compare()

    # -- what each side is ---------------------------------------------------------------------------------
    def _describe(self) -> None:
        """The words under the view: how each side was made, the Details, and each face of the chosen versions."""
        w = self.window
        report = w.compare_report
        report.clear()
        left, right = self._version(w.left_version), self._version(w.current_version)
        w.left_about.setText(f"Left: {version_description(left)}" if left else "Left: the original photo.")
        if right is not None:
            w.right_about.setText(f"Right: {version_description(right)}")
        else:
            w.right_about.setText("")
        details = [f"{side}:\n{version_details(v)}" for side, v in (("Left", left), ("Right", right)) if v]
        w.compare_details.setText("\n\n".join(details) or "The original photo: nothing was done to it.")
        if right is None:
            if w.current_photo is not None:
                report.addItem("Not restored yet: press Ctrl+R to restore this photo.")
            return
        sides = [(right, "")] if left is None else [(right, f" ({version_label(right)}, right)"),
                                                     (left, f" ({version_label(left)}, left)")]
        for number in range(1, len(right.report.get("faces", [])) + 1):
            for version, where in sides:
                faces = version.report.get("faces", [])
                if number <= len(faces):
                    line = face_line(number, faces[number - 1], version.settings)
                    item = QListWidgetItem(line.replace(" — ", f"{where} — ", 1))
                    item.setData(FaceRole, number - 1)
                    item.setToolTip(item.text())
                    report.addItem(item)
        if not right.report.get("faces"):
            report.addItem("No faces were restored in this version.")

    def _toggle_details(self, shown: bool) -> None:
        self.window.compare_details.setVisible(shown)
        self.window.details_button.setText("Hide details" if shown else "Details")

    # -- the view ------------------------------------------------------------------------------------------
    def show_compare(self) -> None:
        w = self.window
        if w.current_photo is None:
            return
        after = w.version_image if w.current_version is not None else None
        if w.left_version is None:
            before = w.photo_image
            if before is None:
                if not w.photo_unreadable:
                    return
                before = QImage()  # the version alone (or nothing, when it has none left) rather than a stale one
        else:
            before = w.left_image
            if before is None:
                return  # still loading
        w.compare.set_images(before, after)  # keeps the mode, and the divider while the photo is the same
        left, right = self._version(w.left_version), self._version(w.current_version)
        w.compare.set_labels(version_label(left) if left else ORIGINAL, version_label(right) if right else "")
        w.compare.set_faces(self._face_boxes(before if not before.isNull() else after))

    def _face_boxes(self, base: QImage | None) -> list[QRectF]:
        """The photo's face boxes in the pixels of the image the view is laid out in (a version enlarged 2x has
        twice the original's pixels)."""
        w = self.window
        try:
            photo = w.library.photos.get(w.current_photo)
        except UnknownItemError:  # removed meanwhile: the window is about to show another photo
            return []
        factor = base.width() / photo.width if base is not None and not base.isNull() and photo.width else 1.0
        boxes = [box_rect(f.box) for f in w.library.faces.of_photo(w.current_photo)]
        return [QRectF(b.x() * factor, b.y() * factor, b.width() * factor, b.height() * factor) for b in boxes]

    def _on_compare_face(self, index: int) -> None:
        report = self.window.compare_report
        for row in range(report.count()):
            if report.item(row).data(FaceRole) == index:
                report.setCurrentRow(row)
                return

    def toggle_compare(self) -> None:
        self.window.tabs.setCurrentIndex(TAB_COMPARE)
        self.window.compare.toggle()

    def _zoom(self, factor: float) -> None:
        self.window.compare.zoom_at(factor, self.window.compare.rect().center().toPointF())

    def build(self) -> QWidget:
        """The two version choosers and the view's tools above the view; below it how each side was made and
        what happened to each face."""
        w = self.window
        w.left_version, w.left_image = None, None
        w.compare = CompareView()
        w.compare.faceClicked.connect(self._on_compare_face)
        w.compare.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        w.compare.customContextMenuRequested.connect(lambda pos: w.popup(w.compare_menu(), w.compare, pos))
        w.left_combo = QComboBox()
        w.version_combo = QComboBox()
        for combo, slot in ((w.left_combo, self._on_left_chosen), (w.version_combo, self._on_version_chosen)):
            combo.setMinimumContentsLength(8 if combo is w.left_combo else 18)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # the tools give way first
            combo.currentIndexChanged.connect(slot)
        w.delete_version_button = QToolButton()  # icon only: a narrow window needs the room for the versions
        w.delete_version_button.setAutoRaise(True)
        w.delete_version_button.setIconSize(QSize(18, 18))
        w.compare_bar = QToolBar()
        w.compare_bar.setIconSize(QSize(18, 18))
        w.compare_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        w.compare_bar.setMinimumWidth(COMPARE_BAR_MIN_PX)  # in a narrow window its tools move to its » menu
        w.left_about, w.right_about = QLabel(), QLabel()
        for label in (w.left_about, w.right_about):
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        w.details_button = QToolButton()
        w.details_button.setText("Details")
        w.details_button.setCheckable(True)
        w.details_button.setToolTip("The technical record of each version: models, checksums, engine, settings")
        w.details_button.toggled.connect(self._toggle_details)
        w.compare_details = QLabel()
        w.compare_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        w.compare_details.setWordWrap(True)
        w.compare_details.setVisible(False)
        w.compare_report = QListWidget()
        w.compare_report.setMaximumHeight(96)
        w.compare_report.setWordWrap(True)
        w.compare_page = QWidget()
        layout = QVBoxLayout(w.compare_page)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Left:"))
        top.addWidget(w.left_combo)
        top.addWidget(QLabel("Right:"))
        top.addWidget(w.version_combo)
        top.addWidget(w.delete_version_button)
        top.addWidget(w.compare_bar, 1)
        layout.addLayout(top)
        layout.addWidget(w.compare, 1)
        about = QHBoxLayout()
        about.addWidget(w.left_about, 1)
        about.addWidget(w.right_about, 1)
        about.addWidget(w.details_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(about)
        layout.addWidget(w.compare_details)
        layout.addWidget(w.compare_report)
        return w.compare_page
