"""A matplotlib figure drawn in a plots process (Agg) and shown as a picture by Qt.

Drawing a figure with the Qt backend happens on the GUI thread and costs it 0.1-0.4 s per draw here (text
layout, legends, a few thousand scatter markers): the window froze for that long after every diagnosis
(``benchmarks/bench_gui.py``). So a figure is built and rasterised by a pure function, and the widget only
paints the finished pixels. The function runs in a separate process when it can be sent there (a module-level
function with plain data): on a thread, matplotlib's Python competes with the GUI thread for the interpreter
lock. Each render gets a fresh ``Figure``; a newer request makes an older render's result stale, and it is
dropped.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from viewer.helper_process import HelperProcess
from viewer.workers import Worker, WorkerSet, bind, single_thread_pool

if TYPE_CHECKING:  # matplotlib is imported where figures are drawn (the plots process), never by the window
    from matplotlib.figure import Figure

Draw = Callable[["Figure"], None]
RESIZE_SETTLE_MS = 150  # redraw once a resize has settled; meanwhile the old picture is scaled
log = logging.getLogger(__name__)
_PLOTS = HelperProcess()
_IN_FLIGHT: WorkerSet | None = None


@dataclass(frozen=True)
class AxesFrame:
    """Where an axes landed in the picture (pixels, origin bottom-left as matplotlib has it) and its limits."""

    bounds: tuple[float, float, float, float]  # x0, y0, width, height
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def data_at(self, x: float, y: float) -> tuple[float, float] | None:
        """Data coordinates under picture pixel (x, y) (origin bottom-left), or None outside the axes."""
        x0, y0, width, height = self.bounds
        if not (width and height and x0 <= x <= x0 + width and y0 <= y <= y0 + height):
            return None
        return (self.xlim[0] + (x - x0) / width * (self.xlim[1] - self.xlim[0]),
                self.ylim[0] + (y - y0) / height * (self.ylim[1] - self.ylim[0]))


@dataclass(frozen=True)
class Rendered:
    pixels: np.ndarray  # (h, w, 4) RGBA
    frames: tuple[AxesFrame, ...]  # one per axes, in figure order
    image_count: int  # images (heatmaps) drawn, over all axes


def render(draw: Draw, width: int, height: int, dpi: float) -> Rendered:
    """``draw`` into a new ``width`` × ``height`` pixel figure and rasterise it (any thread; no Qt)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(width, 1) / dpi, max(height, 1) / dpi), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    draw(figure)
    canvas.draw()
    frames = tuple(AxesFrame(tuple(ax.get_window_extent().bounds), tuple(ax.get_xlim()), tuple(ax.get_ylim()))
                   for ax in figure.axes)
    return Rendered(np.asarray(canvas.buffer_rgba()).copy(), frames, sum(len(ax.images) for ax in figure.axes))


def _in_flight() -> WorkerSet:
    """Renders under way, for the whole process: a view can be closed while its render runs, and a worker
    freed on the pool's thread would take its signals object with it while their delivery is still queued."""
    global _IN_FLIGHT
    if _IN_FLIGHT is None:
        _IN_FLIGHT = WorkerSet()
    return _IN_FLIGHT


def start_plots_process() -> None:
    """Start the plots process and import matplotlib there now (e.g. under the splash), not at the first plot."""
    _PLOTS.pool().submit(render, _blank, 8, 8, 100.0)


def _blank(figure: Figure) -> None:
    del figure


def render_away(draw: Draw, width: int, height: int, dpi: float) -> Rendered:
    """``render`` in the plots process (call it from a worker thread: it waits for the answer); a ``draw`` that
    cannot be sent there (a closure) is rendered on the calling thread, and so is one whose process died."""
    try:
        pickle.dumps(draw)
    except (pickle.PicklingError, AttributeError, TypeError):
        return render(draw, width, height, dpi)
    try:
        return _PLOTS.pool().submit(render, draw, width, height, dpi).result()
    except BrokenProcessPool:
        log.warning("the plots process stopped; drawing on a thread", exc_info=True)
        _PLOTS.stop()
        return render(draw, width, height, dpi)


class FigureView(QWidget):
    """Shows a placeholder message (painted by Qt) or a figure rendered off the GUI thread.

    Rendering waits while the widget is hidden (e.g. on a background tab) and is redone at the new size once a
    resize settles. ``rendered`` is emitted on the GUI thread when a picture arrives.
    """

    rendered = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 160)
        self.message = ""
        self.picture: Rendered | None = None
        self._image: QImage | None = None
        self._draw: Draw | None = None
        self._generation = 0
        self._pending = False
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(RESIZE_SETTLE_MS)
        self._settle.timeout.connect(self._request)

    # -- what to show ------------------------------------------------------------------------------------
    def show_text(self, text: str) -> None:
        """A message in place of the figure (no matplotlib involved)."""
        self._generation += 1  # a render still under way is for something no longer wanted
        self.message, self._draw, self.picture, self._image, self._pending = text, None, None, None, False
        self.update()

    def show_drawing(self, draw: Draw, *, keep_shown: bool = False) -> None:
        """Render ``draw`` (a pure function of a fresh ``Figure``; it must not touch Qt) off the GUI thread.

        Meanwhile the view says "Drawing…", or with ``keep_shown`` goes on showing the picture it has (a live plot
        that grows: redrawn every few hundred milliseconds, it would blink).
        """
        self.message, self._draw = "", draw
        if not keep_shown:
            self.picture, self._image = None, None
        self._request()

    @property
    def waiting_to_be_shown(self) -> bool:
        """A figure is wanted but nothing renders it until the view is shown (hidden docks cost nothing)."""
        return self._pending

    @property
    def busy(self) -> bool:
        """A figure is wanted but its picture has not arrived (yet)."""
        return self._draw is not None and self.picture is None

    # -- rendering ---------------------------------------------------------------------------------------
    def _request(self) -> None:
        if self._draw is None:
            return
        if not self.isVisible():
            self._pending = True
            return
        self._pending = False
        self._generation += 1
        generation, ratio = self._generation, self.devicePixelRatioF()
        worker = Worker(render_away, self._draw, round(self.width() * ratio), round(self.height() * ratio), 100 * ratio)
        bind(worker, self, finished=lambda _worker, picture: self._arrived(generation, picture))
        _in_flight().start(worker, pool=single_thread_pool("plots"))

    def _arrived(self, generation: int, picture: Rendered) -> None:
        if generation != self._generation:
            return  # a newer figure or size was asked for meanwhile
        height, width = picture.pixels.shape[:2]
        self.picture = picture
        self._image = QImage(picture.pixels.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
        self._image.setDevicePixelRatio(self.devicePixelRatioF())
        self.update()
        self.rendered.emit()

    def picture_point(self, x: float, y: float) -> tuple[float, float]:
        """Widget position → picture pixel (origin bottom-left), allowing for a picture not yet redrawn at size."""
        assert self._image is not None
        sx = self._image.width() / max(self.width(), 1)
        sy = self._image.height() / max(self.height(), 1)
        return x * sx, self._image.height() - y * sy

    # -- Qt events ---------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(self.rect()), self._image)
        else:
            painter.setPen(QColor("#444"))
            font = QFont()
            font.setPointSize(9)
            painter.setFont(font)
            painter.drawText(self.rect().adjusted(16, 16, -16, -16),
                             int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                             self.message or ("Drawing…" if self._draw is not None else ""))
        painter.end()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending:
            self._request()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._draw is not None:
            self._settle.start()
