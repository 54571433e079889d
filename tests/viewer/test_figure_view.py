"""Figures are drawn off the GUI thread and shown as pictures; the map still answers hover in data coordinates."""

from __future__ import annotations

import os
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PySide6.QtCore import QPoint

from engine.reference_map import ReferenceMap
from viewer.figure_view import AxesFrame, FigureView, render, render_away
from viewer.plots import AttentionCanvas, MapCanvas


def test_render_reports_where_each_axes_landed() -> None:
    def draw(figure: Figure) -> None:
        ax = figure.add_subplot(111)
        ax.imshow(np.eye(3))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 20)

    picture = render(draw, 300, 200, 100)
    assert picture.pixels.shape == (200, 300, 4) and picture.image_count == 1
    (frame,) = picture.frames
    x0, y0, width, height = frame.bounds
    assert x0 >= 0 and x0 + width <= 300 and y0 >= 0 and y0 + height <= 200
    assert frame.data_at(x0 + width / 2, y0 + height / 4) == pytest.approx((5, 5))
    assert frame.data_at(x0 - 1, y0) is None


def test_axes_frame_maps_pixels_to_data() -> None:
    frame = AxesFrame((10, 20, 100, 50), (0.0, 1.0), (-1.0, 1.0))
    assert frame.data_at(60, 45) == pytest.approx((0.5, 0.0))
    assert frame.data_at(110, 70) == pytest.approx((1.0, 1.0))
    assert frame.data_at(111, 45) is None


def test_drawing_runs_off_the_gui_thread_and_only_the_newest_is_shown(qtbot) -> None:
    view = FigureView()
    qtbot.addWidget(view)
    view.resize(320, 240)
    view.show()
    threads: list[int] = []

    def draw(label: str):
        def _draw(figure: Figure) -> None:
            threads.append(threading.get_ident())
            figure.add_subplot(111).set_title(label)
        return _draw

    view.show_drawing(draw("old"))
    view.show_drawing(draw("new"))  # replaces the first before it can be shown
    assert view.busy
    qtbot.waitUntil(lambda: view.picture is not None, timeout=10000)
    # one plots thread: the newest arriving means the replaced one has run (or was skipped) already
    assert threads and threading.get_ident() not in threads
    assert not view.busy and view.picture.pixels.shape[:2] == (240, 320)
    view.show_text("Nothing to show")
    assert view.picture is None and view.message == "Nothing to show" and not view.busy


def test_a_hidden_figure_waits_until_shown(qtbot) -> None:
    view = FigureView()
    qtbot.addWidget(view)
    view.show_drawing(lambda figure: figure.add_subplot(111))
    assert view.waiting_to_be_shown and view.picture is None and view.busy  # no render for a widget nobody sees
    view.show()
    qtbot.waitUntil(lambda: view.picture is not None, timeout=10000)


def _reference() -> ReferenceMap:
    rng = np.random.default_rng(0)
    coords = np.r_[rng.normal(-5, 1, (40, 2)), rng.normal(5, 1, (40, 2))].astype(np.float32)
    classes = np.r_[np.zeros(40, int), np.ones(40, int)]
    return ReferenceMap(embeddings=rng.normal(size=(80, 8)).astype(np.float32), coords=coords, classes=classes,
                        labels=("NORMAL", "PNEUMONIA"), perplexity=30.0, seed=0)


def test_map_hover_names_what_lies_under_the_pointer(qtbot) -> None:
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 320)
    canvas.show()
    reference = _reference()
    canvas.show_map(reference, np.array([5.0, 5.0]), np.arange(40, 45))
    qtbot.waitUntil(lambda: canvas.picture is not None, timeout=10000)
    heard: list[str] = []
    canvas.hover_text.connect(heard.append)
    # Move the pointer to the star: from data to widget pixels through the frame the render reported.
    frame = canvas.picture.frames[0]
    x0, y0, width, height = frame.bounds
    px = x0 + (5.0 - frame.xlim[0]) / (frame.xlim[1] - frame.xlim[0]) * width
    py = y0 + (5.0 - frame.ylim[0]) / (frame.ylim[1] - frame.ylim[0]) * height
    ratio = canvas.picture.pixels.shape[0] / canvas.height()
    qtbot.mouseMove(canvas, QPoint(round(px / ratio), round(canvas.height() - py / ratio)))
    qtbot.waitUntil(lambda: bool(heard), timeout=2000)
    assert heard[-1].startswith("This case's 5 nearest reference cases") and "5× PNEUMONIA" in heard[-1]
    canvas.hover_at(-5.0, -5.0)
    assert "NORMAL" in heard[-1] and "PNEUMONIA" not in heard[-1]


def test_attention_counts_the_heatmaps_it_drew(qtbot) -> None:
    canvas = AttentionCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 260)
    canvas.show()
    assert canvas.heatmap_count == 0
    attention = np.random.default_rng(0).random((6, 3, 4, 6)).astype(np.float32)
    canvas.show_attention(attention, np.full((6, 4), 0.25, np.float32), [f"s{i}" for i in range(6)])
    qtbot.waitUntil(lambda: canvas.picture is not None, timeout=10000)
    assert canvas.heatmap_count == 5
    canvas.show_attention(None, None, [])
    assert canvas.picture is None and "without the multi-token engine" in canvas.message


def _draw_noting_pid(figure: Figure, path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    figure.add_subplot(111)


def test_drawings_that_can_be_sent_render_in_the_plots_process(tmp_path: Path) -> None:
    """matplotlib's Python then does not compete with the GUI thread for the interpreter lock."""
    note = tmp_path / "pid"
    picture = render_away(partial(_draw_noting_pid, path=str(note)), 100, 80, 100)
    assert picture.pixels.shape == (80, 100, 4) and len(picture.frames) == 1
    assert int(note.read_text()) != os.getpid()
    render_away(lambda figure: _draw_noting_pid(figure, str(note)), 100, 80, 100)  # a closure: drawn here
    assert int(note.read_text()) == os.getpid()
