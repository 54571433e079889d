"""matplotlib canvases (Qt backend) for the diagnosis panel: the t-SNE map and the emitter's attention."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QSizePolicy

from engine.reference_map import ReferenceMap

CLASS_COLOURS = ("#4c9be8", "#e8704c", "#7bc96f", "#b07be8")
CASE_COLOUR = "#ffd400"


def _class_counts(labels: list[str]) -> str:
    counts = {label: labels.count(label) for label in dict.fromkeys(labels)}
    return ", ".join(f"{n}× {label}" for label, n in counts.items())


class _Canvas(FigureCanvasQTAgg):
    """A canvas that postpones drawing while hidden (e.g. on a background tab): a draw costs ~0.2 s here.

    A message ("No case yet") is painted by Qt, not drawn by matplotlib: a figure's first draw costs the GUI
    thread a second on a busy machine, and a window shows these placeholders at start-up and for every new image.
    """

    def __init__(self, figure: Figure) -> None:
        self._pending = False
        self._placeholder = False
        super().__init__(figure)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 160)
        self.message = ""

    def _show_placeholder(self, text: str) -> None:
        self.message, self._placeholder, self._pending = text, True, False
        self.update()

    def _show_figure(self) -> None:
        self._placeholder = False
        self.draw_idle()

    def paintEvent(self, event) -> None:
        if not self._placeholder:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setPen(QColor("#444"))
        font = QFont()
        font.setPointSize(9)
        painter.setFont(font)
        painter.drawText(self.rect().adjusted(16, 16, -16, -16),
                         int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.message)
        painter.end()

    def draw_idle(self) -> None:
        if self._placeholder:
            self.update()
            return
        if not self.isVisible():
            self._pending = True
            return
        self._pending = False
        super().draw_idle()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending:
            self.draw_idle()


class MapCanvas(_Canvas):
    """Reference cases coloured by class; the current case as a star, its nearest references ringed.

    Hovering the star lists the case's nearest reference cases (``ReferenceMap.nearest``, embedding space);
    hovering elsewhere names the reference case under the pointer. There are no images for references.
    """

    hover_text = Signal(str)

    def __init__(self) -> None:
        self.figure = Figure(figsize=(3.6, 3.0), layout="constrained")
        super().__init__(self.figure)
        self.axes = self.figure.add_subplot(111)
        self.reference: ReferenceMap | None = None
        self.point: np.ndarray | None = None
        self.nearest: np.ndarray | None = None  # indices of the case's nearest reference cases
        self.mpl_connect("motion_notify_event", self._hover)
        self.show_message("No case yet")

    def show_message(self, text: str) -> None:
        self.reference, self.point, self.nearest = None, None, None
        self._show_placeholder(text)

    def show_map(self, reference: ReferenceMap, point: np.ndarray | None, nearest: np.ndarray | None = None) -> None:
        self.reference, self.point, self.message = reference, point, ""
        self.nearest = None if nearest is None else np.asarray(nearest, int)
        ax = self.axes
        ax.clear()
        ax.set_axis_on()
        size = 10 if len(reference.coords) < 400 else 4
        for index, label in enumerate(reference.labels):
            chosen = reference.classes == index
            ax.scatter(reference.coords[chosen, 0], reference.coords[chosen, 1], s=size, alpha=0.55, linewidths=0,
                       color=CLASS_COLOURS[index % len(CLASS_COLOURS)], label=f"{label} ({int(chosen.sum())})")
        if self.nearest is not None and len(self.nearest):
            near = reference.coords[self.nearest]
            ax.scatter(near[:, 0], near[:, 1], s=70, facecolors="none", edgecolors="black", linewidths=1.0,
                       label="nearest references", zorder=4)
        if point is not None:
            ax.scatter([point[0]], [point[1]], marker="*", s=320, color=CASE_COLOUR, edgecolor="black",
                       linewidth=1.2, label="this case", zorder=5)
        legend = ax.legend(loc="best", fontsize=7, framealpha=0.85)
        for handle in legend.legend_handles:
            if hasattr(handle, "set_sizes"):
                handle.set_sizes([30])
        ax.set_title("t-SNE map of the model's reference cases", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        self._show_figure()

    def nearest_text(self) -> str:
        if self.reference is None or self.nearest is None or not len(self.nearest):
            return ""
        labels = [self.reference.labels[int(self.reference.classes[i])] for i in self.nearest]
        text = f"This case's {len(labels)} nearest reference cases (embedding space): {_class_counts(labels)}."
        if self.point is not None and self.reference.strays_from(self.point, self.nearest):
            text += (" The star is placed by t-SNE, which puts it away from these ringed cases: the map keeps "
                     "neighbourhoods only roughly, the ringed cases are the nearer ones.")
        return text

    def _hover(self, event) -> None:
        if self.reference is None or event.inaxes is not self.axes or event.xdata is None:
            return
        coords = self.reference.coords
        span = float(np.ptp(coords, axis=0).max()) or 1.0
        if self.point is not None and np.hypot(*(self.point - (event.xdata, event.ydata))) < 0.04 * span:
            self.hover_text.emit(self.nearest_text() or "This case.")
            return
        distances = np.hypot(coords[:, 0] - event.xdata, coords[:, 1] - event.ydata)
        index = int(np.argmin(distances))
        if distances[index] < 0.03 * span:
            label = self.reference.labels[int(self.reference.classes[index])]
            self.hover_text.emit(f"Reference case #{index + 1}: {label} (reference cases have no images here).")
        else:
            nearest = np.argsort(distances)[:5]
            labels = [self.reference.labels[int(self.reference.classes[i])] for i in nearest]
            self.hover_text.emit(f"Reference cases nearest the pointer: {_class_counts(labels)}.")


class AttentionCanvas(_Canvas):
    """One heatmap per diagnosis token (LLM layer × source token, heads averaged), plus the token-engine map M_c."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(6.0, 2.6), layout="constrained")
        super().__init__(self.figure)
        self.attention: np.ndarray | None = None
        self.token_mixing: np.ndarray | None = None
        self.show_message("No case yet")

    def show_message(self, text: str) -> None:
        self.figure.clear()
        self._show_placeholder(text)

    @property
    def heatmap_count(self) -> int:
        return sum(len(ax.images) for ax in self.figure.axes)

    def show_attention(self, attention: np.ndarray | None, token_mixing: np.ndarray | None,
                       source_names: list[str]) -> None:
        """``attention`` (L, H, m, d) and ``token_mixing`` (d, m); either may be None (ablated models)."""
        self.attention, self.token_mixing = attention, token_mixing
        self.figure.clear()
        self.message = ""
        if attention is None and token_mixing is None:
            self.show_message("No diagnosis tokens to show: this model was trained without the multi-token engine "
                              "(ablation), so there is no emitter attention or token-engine map.")
            return
        tokens = attention.shape[2] if attention is not None else 0
        depth = attention.shape[3] if attention is not None else token_mixing.shape[0]  # type: ignore[union-attr]
        names = source_names if len(source_names) == depth else [f"source {i + 1}" for i in range(depth)]
        panels = max(tokens, 1 if attention is None else 0) + (1 if token_mixing is not None else 0)
        axes = self.figure.subplots(1, panels, squeeze=False)[0]
        if attention is None:
            axes[0].set_axis_off()
            axes[0].text(0.5, 0.5, "No LLM in this model\n(ablation):\nno emitter attention", ha="center",
                         va="center", fontsize=8, color="#444")
        else:
            per_layer = attention.astype(np.float32).mean(axis=1)  # (L, m, d): average over heads
            layers = per_layer.shape[0]
            top = float(per_layer.max()) or 1.0  # one scale for all tokens, so panels compare
            shown = None
            for token in range(tokens):
                ax = axes[token]
                shown = ax.imshow(per_layer[:, token, :], aspect="auto", cmap="viridis", vmin=0, vmax=top,
                                  interpolation="nearest")
                ax.set_title(f"token {token + 1}", fontsize=8)
                ax.set_xticks(range(depth), names, fontsize=6, rotation=90)
                step = max(1, layers // 6)
                ticks = list(range(0, layers, step))
                ax.set_yticks(ticks, [str(t + 1) for t in ticks] if token == 0 else [""] * len(ticks), fontsize=6)
                if token == 0:
                    ax.set_ylabel("LLM layer", fontsize=7)
            if shown is not None:
                bar = self.figure.colorbar(shown, ax=list(axes[:tokens]), fraction=0.04, pad=0.02)
                bar.ax.tick_params(labelsize=6)
        if token_mixing is not None:
            ax = axes[-1]
            image = ax.imshow(token_mixing, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title("token-engine map M_c", fontsize=8)
            ax.set_yticks(range(token_mixing.shape[0]), names, fontsize=6)
            ax.set_xticks(range(token_mixing.shape[1]), [f"t{i + 1}" for i in range(token_mixing.shape[1])], fontsize=6)
            bar = self.figure.colorbar(image, ax=ax, fraction=0.08)
            bar.ax.tick_params(labelsize=6)
        self._show_figure()


class RocCanvas(_Canvas):
    def __init__(self) -> None:
        self.figure = Figure(figsize=(3.2, 3.0), layout="constrained")
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
