"""matplotlib canvases for the diagnosis panel: the t-SNE map and the emitter's attention."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Signal

from engine.tsne_map import ReferenceMap

CLASS_COLOURS = ("#4c9be8", "#e8704c", "#7bc96f", "#b07be8")


class MapCanvas(FigureCanvasQTAgg):
    """Reference cases coloured by class; the current case as a star; hover names the nearest references."""

    hover_text = Signal(str)

    def __init__(self) -> None:
        self.figure = Figure(figsize=(3.6, 3.0), tight_layout=True)
        super().__init__(self.figure)
        self.axes = self.figure.add_subplot(111)
        self.reference: ReferenceMap | None = None
        self.point: np.ndarray | None = None
        self.embedding: np.ndarray | None = None
        self.mpl_connect("motion_notify_event", self._hover)
        self.show_message("No case yet")

    def show_message(self, text: str) -> None:
        self.axes.clear()
        self.axes.set_axis_off()
        self.axes.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9)
        self.draw_idle()

    def show_map(self, reference: ReferenceMap, point: np.ndarray | None, embedding: np.ndarray | None) -> None:
        self.reference, self.point, self.embedding = reference, point, embedding
        ax = self.axes
        ax.clear()
        for index, label in enumerate(reference.labels):
            chosen = reference.classes == index
            ax.scatter(reference.coords[chosen, 0], reference.coords[chosen, 1], s=4, alpha=0.5,
                       color=CLASS_COLOURS[index % len(CLASS_COLOURS)], label=f"{label} ({int(chosen.sum())})")
        if point is not None:
            ax.scatter([point[0]], [point[1]], marker="*", s=260, color="#ffd400", edgecolor="black", linewidth=1.2,
                       label="this case", zorder=5)
        legend = ax.legend(loc="best", fontsize=7, framealpha=0.8)
        for handle in legend.legend_handles:
            handle.set_sizes([30])
        ax.set_title("t-SNE map of reference cases", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        self.draw_idle()

    def _hover(self, event) -> None:  # noqa: ANN001 - a matplotlib event
        if self.reference is None or event.inaxes is not self.axes or event.xdata is None:
            return
        distances = np.hypot(self.reference.coords[:, 0] - event.xdata, self.reference.coords[:, 1] - event.ydata)
        nearest = np.argsort(distances)[:5]
        labels = [self.reference.labels[int(self.reference.classes[i])] for i in nearest]
        counts = {label: labels.count(label) for label in dict.fromkeys(labels)}
        self.hover_text.emit("Nearest reference cases here: " + ", ".join(f"{n}× {k}" for k, n in counts.items()))


class AttentionCanvas(FigureCanvasQTAgg):
    """One heatmap per diagnosis token (LLM layer × source token), plus the engine's mixing map M_c."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(6.4, 2.6), layout="constrained")
        super().__init__(self.figure)
        self.show_message("No case yet")

    def show_message(self, text: str) -> None:
        self.figure.clear()
        ax = self.figure.add_subplot(111)
        ax.set_axis_off()
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9)
        self.draw_idle()

    def show_attention(self, attention: np.ndarray | None, engine_map: np.ndarray | None,
                       source_names: list[str]) -> None:
        self.figure.clear()
        if attention is None and engine_map is None:
            self.show_message("This model has no diagnosis tokens (engine ablated).")
            return
        tokens = attention.shape[2] if attention is not None else 0
        panels = tokens + (1 if engine_map is not None else 0)
        axes = self.figure.subplots(1, panels, squeeze=False)[0]
        if attention is not None:
            per_layer = attention.mean(axis=1)  # (L, m, d): average over heads
            top = float(per_layer.max()) or 1.0  # one scale for all tokens, so panels compare
            for token in range(tokens):
                ax = axes[token]
                shown = ax.imshow(per_layer[:, token, :], aspect="auto", cmap="viridis", vmin=0, vmax=top,
                                  interpolation="nearest")
                ax.set_title(f"diagnosis token {token + 1}", fontsize=8)
                ax.set_xticks(range(len(source_names)), source_names, fontsize=6, rotation=90)
                ax.set_ylabel("LLM layer" if token == 0 else "", fontsize=7)
                ax.tick_params(axis="y", labelsize=6)
            self.figure.colorbar(shown, ax=list(axes[:tokens]), fraction=0.03, pad=0.02)
        if engine_map is not None:
            ax = axes[-1]
            image = ax.imshow(engine_map, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title("engine map M_c", fontsize=8)
            ax.set_yticks(range(len(source_names)), source_names, fontsize=6)
            ax.set_xticks(range(engine_map.shape[1]), [f"t{i + 1}" for i in range(engine_map.shape[1])], fontsize=6)
            self.figure.colorbar(image, ax=ax, fraction=0.08)
        self.draw_idle()


class RocCanvas(FigureCanvasQTAgg):
    def __init__(self) -> None:
        self.figure = Figure(figsize=(3.2, 3.0), tight_layout=True)
        super().__init__(self.figure)
        self.axes = self.figure.add_subplot(111)

    def show_curves(self, curves: dict[str, dict[str, list[float]]]) -> None:
        ax = self.axes
        ax.clear()
        for name, roc in curves.items():
            ax.plot(roc["fpr"], roc["tpr"], label=name)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
        ax.set_xlabel("1 - specificity", fontsize=8)
        ax.set_ylabel("sensitivity", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
        self.draw_idle()
