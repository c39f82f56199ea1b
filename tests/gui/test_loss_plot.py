"""The fine-tune plot: ranges never collapse, both series are drawn where the mapping says."""

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from ented_desktop.gui.loss_plot import LOSS_COLOUR, VAL_COLOUR, LossPlot, value_range
from ented_desktop.gui.qimage import rgb_from_qimage


def test_value_range_pads_and_handles_flat_and_empty():
    assert value_range([]) == (0.0, 1.0)
    assert value_range([2.0, 2.0]) == (pytest.approx(1.8), pytest.approx(2.2))
    assert value_range([0.0, 1.0, math.nan]) == (0.0, pytest.approx(1.05))
    assert value_range([-1.0, 1.0]) == (pytest.approx(-1.1), pytest.approx(1.1))


def colour_near(rgb, point: QPointF, colour, radius=2):
    x, y = int(round(point.x())), int(round(point.y()))
    patch = rgb[y - radius : y + radius + 1, x - radius : x + radius + 1].reshape(-1, 3).astype(int)
    target = np.array([colour.red(), colour.green(), colour.blue()])
    return bool((np.abs(patch - target).sum(axis=1) < 60).any())


def test_series_are_painted_at_their_mapped_positions(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(400, 240)
    plot.clear(100)
    for i in range(0, 101, 10):
        plot.add(i, 1.0 - i / 200, val=0.9 - i / 250 if i % 50 == 0 else None)
    assert [i for i, _ in plot.val] == [0, 50, 100]
    rgb = rgb_from_qimage(plot.grab().toImage())
    low, high = value_range([v for _, v in plot.loss] + [v for _, v in plot.val])
    assert colour_near(rgb, plot.to_widget(40, 0.8, low, high), LOSS_COLOUR)
    assert colour_near(rgb, plot.to_widget(50, 0.7, low, high), VAL_COLOUR)
    assert not colour_near(rgb, plot.to_widget(40, 0.2, low, high), LOSS_COLOUR)


def test_non_finite_values_are_ignored(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add(1, math.inf, val=math.nan)
    assert plot.loss == [] and plot.val == []
