"""The fine-tune plot: ranges never collapse, both series are drawn where the mapping says."""

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from ented_desktop.gui.loss_plot import LOSS_COLOUR, VAL_COLOUR, LossPlot, tick_text, value_range
from ented_desktop.gui.qimage import rgb_from_qimage


def test_value_range_pads_and_handles_flat_and_empty():
    assert value_range([]) == (0.0, 1.0)
    assert value_range([2.0, 2.0]) == (pytest.approx(1.8), pytest.approx(2.2))
    assert value_range([0.0, 1.0, math.nan]) == (0.0, pytest.approx(1.05))
    assert value_range([-1.0, 1.0]) == (pytest.approx(-1.1), pytest.approx(1.1))


def test_tick_labels_keep_enough_decimals_to_differ():
    # half-span 2.6: one decimal; half-span 0.0165: three; half-span 500: none
    assert [tick_text(v, 9.87, 15.07) for v in (9.87, 12.47, 15.07)] == ["9.9", "12.5", "15.1"]
    assert [tick_text(v, 19.309, 19.342) for v in (19.309, 19.3255, 19.342)] == ["19.309", "19.326", "19.342"]
    assert tick_text(1234.4, 0.0, 1000.0) == "1234"
    assert tick_text(3.0, 3.0, 3.0) == "3"


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
        plot.add(i, 1.0 - i / 200, val=0.5 + i / 250 if i % 50 == 0 else None)
    assert [i for i, _ in plot.val] == [0, 50, 100]
    rgb = rgb_from_qimage(plot.grab().toImage())
    assert plot.loss_range() == value_range([v for _, v in plot.loss])
    assert colour_near(rgb, plot.to_widget(40, 0.8, *plot.loss_range()), LOSS_COLOUR)
    assert colour_near(rgb, plot.to_widget(100, 0.9, *plot.val_range()), VAL_COLOUR)
    assert not colour_near(rgb, plot.to_widget(40, 0.2, *plot.loss_range()), LOSS_COLOUR)


def test_each_series_has_its_own_scale(qtbot):
    """A loss near 0.3 and a PSNR near 25 dB: both must span the plot, not one squashed by the other."""
    plot = LossPlot(val_label="held-out PSNR (dB)")
    qtbot.addWidget(plot)
    plot.resize(400, 240)
    for i in range(1, 41):
        plot.add(i, 0.4 - i / 400, val=24.0 + i / 20 if i % 10 == 0 else None)
    area = plot.plot_rect()
    for series, value_range_of in ((plot.loss, plot.loss_range), (plot.val, plot.val_range)):
        ys = [plot.to_widget(i, v, *value_range_of()).y() for i, v in series]
        assert max(ys) - min(ys) > 0.8 * area.height()
    rgb = rgb_from_qimage(plot.grab().toImage())
    first, last = plot.val[0], plot.val[-1]
    assert colour_near(rgb, plot.to_widget(*first, *plot.val_range()), VAL_COLOUR)
    assert colour_near(rgb, plot.to_widget(*last, *plot.val_range()), VAL_COLOUR)


def test_set_validation_replaces_the_series_and_widens_the_axis(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add(5, 0.5, val=20.0)
    plot.set_validation([(0, 19.0), (5, 20.0), (8, math.nan)])
    assert plot.val == [(0, 19.0), (5, 20.0)]
    plot.set_validation([(12, 21.0)])
    assert plot.val == [(12, 21.0)] and plot.to_widget(12, 0, 0, 1).x() == plot.plot_rect().right()


def test_non_finite_values_are_ignored(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add(1, math.inf, val=math.nan)
    assert plot.loss == [] and plot.val == []
