"""The t-SNE map's legend never covers the case's star."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from viewer.plots import draw_map, legend_corner


def test_the_legend_moves_away_from_a_case_in_its_corner() -> None:
    rng = np.random.default_rng(0)
    coords = rng.uniform(-10, 10, (200, 2)).astype(np.float32)
    classes = (coords[:, 0] > 0).astype(int)
    assert legend_corner(coords, np.array([-8.0, -8.0])) == "upper right"  # the usual place when it is free
    assert legend_corner(coords, None) == "upper right"
    assert legend_corner(coords, np.array([9.0, 9.5])) == "lower left"
    assert legend_corner(coords, np.array([9.0, 1.0])) in ("upper left", "lower left")
    figure = Figure()
    draw_map(figure, coords, classes, ("NORMAL", "PNEUMONIA"), np.array([9.0, 9.5]), np.array([0, 1]))
    legend = figure.axes[0].get_legend()
    assert legend is not None and legend._loc == 3  # matplotlib's code for "lower left"
