"""A live training curve (loss and, when measured, validation) painted with QPainter.

The two series are in different units (a loss, a PSNR in dB), so each has its own vertical scale: the
loss's on the left axis, the validation's on the right, each labelled in its series' colour."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

LOSS_COLOUR = QColor(40, 110, 220)
VAL_COLOUR = QColor(220, 90, 30)
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 56, 24, 28


def value_range(values: list[float]) -> tuple[float, float]:
    """A plot range that contains every value and is never empty."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high - low < 1e-12:
        pad = abs(high) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    # losses are rarely negative: do not let the padding invent a negative axis
    return (0.0 if low >= 0 > low - pad else low - pad), high + pad


def tick_text(value: float, low: float, high: float) -> str:
    """An axis label with just enough decimals that the low, middle and high labels differ (they are half
    the span apart): 9.9 / 12.5 / 15.1 for a loss, 19.309 / 19.326 / 19.343 for a PSNR that barely moves."""
    step = (high - low) / 2
    decimals = 0 if step <= 0 else min(6, max(0, 1 - math.floor(math.log10(step))))
    return f"{value:.{decimals}f}"


class LossPlot(QWidget):
    """Two series over iterations: training loss (every report) and validation (when reported)."""

    def __init__(self, parent: QWidget | None = None, val_label: str = "validation", loss_label: str = "loss") -> None:
        super().__init__(parent)
        self.val_label = val_label
        self.loss_label = loss_label
        self.empty_text = "Waiting for the first iterations…"  # shown while there is nothing to draw
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._total = 1
        self.loss: list[tuple[int, float]] = []
        self.val: list[tuple[int, float]] = []

    def clear(self, total_iterations: int = 1) -> None:
        self._total = max(1, total_iterations)
        self.loss.clear()
        self.val.clear()
        self.update()

    def set_total(self, total_iterations: int) -> None:
        """The iteration count the x axis spans (the run's planned total)."""
        self._total = max(1, total_iterations, *(i for i, _ in self.loss + self.val))
        self.update()

    def add(self, iteration: int, loss: float | None, val: float | None = None) -> None:
        if loss is not None and math.isfinite(loss):
            self.loss.append((iteration, float(loss)))
        if val is not None and math.isfinite(val):
            self.val.append((iteration, float(val)))
        self._total = max(self._total, iteration)
        self.update()

    def set_validation(self, points: list[tuple[int, float]]) -> None:
        """Replace the validation series (e.g. with a finished run's history, which includes iteration 0)."""
        self.val = [(int(i), float(v)) for i, v in points if math.isfinite(v)]
        self._total = max(self._total, *(i for i, _ in self.val), 1)
        self.update()

    def loss_range(self) -> tuple[float, float]:
        return value_range([v for _, v in self.loss])

    def val_range(self) -> tuple[float, float]:
        return value_range([v for _, v in self.val])

    def plot_rect(self) -> QRectF:
        return QRectF(MARGIN_LEFT, MARGIN_TOP, max(1, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
                      max(1, self.height() - MARGIN_TOP - MARGIN_BOTTOM))

    def to_widget(self, iteration: float, value: float, low: float, high: float) -> QPointF:
        area = self.plot_rect()
        x = area.left() + area.width() * iteration / self._total
        y = area.bottom() - area.height() * (value - low) / (high - low)
        return QPointF(x, y)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(255, 255, 255))
        area = self.plot_rect()
        painter.setPen(QPen(QColor(200, 200, 200), 1))
        painter.drawRect(area)
        axes = ((self.loss, LOSS_COLOUR, self.loss_range(), True), (self.val, VAL_COLOUR, self.val_range(), False))
        for series, colour, (low, high), left in axes:
            if not series:
                continue
            painter.setPen(colour.darker(130))
            for value in (low, (low + high) / 2, high):
                y = self.to_widget(0, value, low, high).y()
                x = 0 if left else area.right() + 6
                align = Qt.AlignmentFlag.AlignRight if left else Qt.AlignmentFlag.AlignLeft
                painter.drawText(QRectF(x, y - 8, MARGIN_LEFT - 6 if left else MARGIN_RIGHT - 6, 16),
                                 align | Qt.AlignmentFlag.AlignVCenter, tick_text(value, low, high))
        painter.setPen(QColor(60, 60, 60))
        axis = QRectF(area.left(), area.bottom() + 4, area.width(), 20)
        painter.drawText(axis, Qt.AlignmentFlag.AlignRight, f"iteration {self._total}")
        painter.drawText(axis, Qt.AlignmentFlag.AlignLeft, "0")
        if not self.loss and not self.val:
            painter.drawText(area.adjusted(12, 0, -12, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text)
        for series, colour, (low, high), _ in axes:
            if not series:
                continue
            painter.setPen(QPen(colour, 2))
            points = QPolygonF([self.to_widget(i, v, low, high) for i, v in series])
            if len(series) == 1:
                painter.setBrush(colour)
                painter.drawEllipse(points[0], 3, 3)
            else:
                painter.drawPolyline(points)
        self._legend(painter, area)

    def _legend(self, painter: QPainter, area: QRectF) -> None:
        x = area.left() + 4
        for name, colour in ((f"{self.loss_label} (left axis)", LOSS_COLOUR),
                             (f"{self.val_label} (right axis)", VAL_COLOUR)):
            painter.setPen(QPen(colour, 3))
            painter.drawLine(QPointF(x, 12), QPointF(x + 16, 12))
            painter.setPen(QColor(40, 40, 40))
            painter.drawText(QPointF(x + 20, 16), name)
            x += 28 + painter.fontMetrics().horizontalAdvance(name)
