"""The wizard's plots: training curves while it trains, ROC curves when it evaluates."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

from training.finetune import TrainingEvent


class CurvesCanvas(FigureCanvasQTAgg):
    """Training loss per step and validation AUC per epoch, one line per fold and the final model."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(7.5, 2.8), tight_layout=True)
        super().__init__(self.figure)
        self.loss_axes, self.auc_axes = self.figure.subplots(1, 2)
        self.loss: dict[str, list[tuple[float, float]]] = {}
        self.auc: dict[str, list[tuple[int, float]]] = {}
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
        for axes, title, ylabel in ((self.loss_axes, "Training loss", "cross-entropy"),
                                    (self.auc_axes, "Validation AUC", "AUC (%)")):
            axes.clear()
            axes.set_title(title, fontsize=9)
            axes.set_xlabel("epoch", fontsize=8)
            axes.set_ylabel(ylabel, fontsize=8)
            axes.tick_params(labelsize=7)
            axes.grid(True, alpha=0.3)
        for name, points in self.loss.items():
            # a single step makes no line: mark it, or the plot looks empty while training runs
            self.loss_axes.plot(*zip(*points, strict=True), linewidth=1, label=name,
                                marker="o" if len(points) == 1 else None, markersize=4)
        steps = max((len(points) for points in self.loss.values()), default=0)
        if steps == 1:
            self.loss_axes.text(0.5, 0.9, "1 step so far", ha="center", fontsize=8, color="#555",
                                transform=self.loss_axes.transAxes)
        for name, points in self.auc.items():
            self.auc_axes.plot(*zip(*points, strict=True), marker="o", markersize=3, linewidth=1, label=name)
        if self.auc:
            self.auc_axes.set_ylim(0, 101)
            self.auc_axes.legend(fontsize=7, loc="lower right")
        self.draw_idle()


class RocCanvas(FigureCanvasQTAgg):
    def __init__(self) -> None:
        self.figure = Figure(figsize=(3.6, 3.3), tight_layout=True)
        super().__init__(self.figure)
        self.axes = self.figure.add_subplot(111)

    def show_curves(self, curves: list[tuple[str, dict[str, list[float]], tuple[float, float] | None]],
                    note: str = "") -> None:
        ax = self.axes
        ax.clear()
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
            ax.legend(fontsize=7, loc="lower right")
        if note:
            ax.text(0.5, 0.55, note, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)
        self.draw_idle()
