"""The wizard's plots: training curves while it trains, ROC curves when it evaluates.

Each is a pure function of a fresh matplotlib ``Figure`` (``draw_curves``, ``draw_roc``) that
``viewer.figure_view.FigureView`` renders off the GUI thread; the widgets keep the data.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from viewer.figure_view import FigureView

if TYPE_CHECKING:  # the plots process imports this module to draw: it must not pull in torch
    from matplotlib.figure import Figure

    from training.finetune import TrainingEvent

Curves = dict[str, list[tuple[float, float]]]  # line name -> (x, y) points
RocCurve = tuple[str, dict[str, list[float]], tuple[float, float] | None]  # name, {"fpr", "tpr"}, operating point


def draw_curves(figure: Figure, loss: Curves, auc: Curves) -> None:
    """Training loss per step and validation AUC per epoch, one line per fold and the final model."""
    loss_axes, auc_axes = figure.subplots(1, 2)
    for axes, title, ylabel in ((loss_axes, "Training loss", "cross-entropy"), (auc_axes, "Validation AUC", "AUC (%)")):
        axes.set_title(title, fontsize=9)
        axes.set_xlabel("epoch", fontsize=8)
        axes.set_ylabel(ylabel, fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(True, alpha=0.3)
    for name, points in loss.items():
        # a single step makes no line: mark it, or the plot looks empty while training runs
        loss_axes.plot(*zip(*points, strict=True), linewidth=1, label=name, marker="o" if len(points) == 1 else None,
                       markersize=4)
    if max((len(points) for points in loss.values()), default=0) == 1:
        loss_axes.text(0.5, 0.9, "1 step so far", ha="center", fontsize=8, color="#555", transform=loss_axes.transAxes)
    for name, points in auc.items():
        auc_axes.plot(*zip(*points, strict=True), marker="o", markersize=3, linewidth=1, label=name)
    if auc:
        auc_axes.set_ylim(0, 101)
        auc_axes.legend(fontsize=7, loc="lower right")


def draw_roc(figure: Figure, curves: list[RocCurve], note: str = "") -> None:
    """ROC curves with a dot at each operating point. ``note`` (why a curve is missing) stands in the empty plot,
    or, beside curves, as the legend's title: written across the axes it covered the curve."""
    ax = figure.add_subplot(111)
    for name, roc, point in curves:
        (line,) = ax.plot(roc["fpr"], roc["tpr"], linewidth=1.5, label=name)
        if point is not None:
            ax.plot([point[0]], [point[1]], marker="o", color=line.get_color(), markersize=6)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(-0.01, 1.0)
    ax.set_ylim(0.0, 1.02)  # a perfect curve along the top stays visible
    ax.set_xlabel("1 − specificity", fontsize=8)
    ax.set_ylabel("sensitivity", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title("ROC (dots: operating points)" if curves else "ROC", fontsize=9)
    if curves:
        legend = ax.legend(fontsize=7, loc="lower right", title=note or None, title_fontsize=7)
        legend.get_title().set_color("#555")
    elif note:
        ax.text(0.5, 0.55, note, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)


class CurvesCanvas(FigureView):
    """The training curves; events are collected as they come and drawn when ``redraw`` is called."""

    def __init__(self) -> None:
        super().__init__()
        self.loss: Curves = {}
        self.auc: Curves = {}
        self.dirty = False
        self.redraw()

    def clear_curves(self) -> None:
        self.loss, self.auc = {}, {}
        self.dirty = True

    def add(self, event: TrainingEvent) -> None:
        name = "final model" if event.fold is None else f"fold {event.fold + 1}"
        if event.stage == "training" and event.loss is not None and event.steps:
            self.loss.setdefault(name, []).append((event.epoch - 1 + event.step / event.steps, event.loss))
            self.dirty = True
        elif event.stage == "validated" and "val_auc" in event.metrics:
            self.auc.setdefault(name, []).append((event.epoch, event.metrics["val_auc"]))
            self.dirty = True

    def redraw(self) -> None:
        self.dirty = False
        # copies: the render may run while more events arrive; the last picture stays up until the next is in
        self.show_drawing(partial(draw_curves, loss={name: list(points) for name, points in self.loss.items()},
                                  auc={name: list(points) for name, points in self.auc.items()}), keep_shown=True)


class RocCanvas(FigureView):
    def show_curves(self, curves: list[RocCurve], note: str = "") -> None:
        self.show_drawing(partial(draw_roc, curves=list(curves), note=note))
