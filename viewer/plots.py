"""The diagnosis panel's figures: the t-SNE map and the emitter's attention.

Each is drawn by a pure function of a fresh matplotlib ``Figure`` (``draw_map``, ``draw_attention``) that
``viewer.figure_view.FigureView`` runs off the GUI thread; the widgets keep the data and answer hover.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Signal

from engine.reference_map import ReferenceMap
from viewer.figure_view import FigureView

if TYPE_CHECKING:  # drawn in the plots process; the window never imports matplotlib
    from matplotlib.figure import Figure

CLASS_COLOURS = ("#4c9be8", "#e8704c", "#7bc96f", "#b07be8")
CASE_COLOUR = "#ffd400"


def _class_counts(labels: list[str]) -> str:
    counts = {label: labels.count(label) for label in dict.fromkeys(labels)}
    return ", ".join(f"{n}× {label}" for label, n in counts.items())


LEGEND_CORNERS = {"upper right": (1.0, 1.0), "upper left": (0.0, 1.0), "lower right": (1.0, 0.0),
                  "lower left": (0.0, 0.0)}


def legend_corner(coords: np.ndarray, point: np.ndarray | None) -> str:
    """The upper right corner unless the case lies in that quarter of the map; then the corner farthest from it."""
    if point is None or not len(coords):
        return "upper right"
    low, high = coords.min(axis=0), coords.max(axis=0)
    where = (np.asarray(point, dtype=float) - low) / np.maximum(high - low, 1e-9)
    if not (where[0] > 0.5 and where[1] > 0.5):
        return "upper right"
    return max(LEGEND_CORNERS, key=lambda name: float(np.hypot(*(np.subtract(LEGEND_CORNERS[name], where)))))


def draw_map(figure: Figure, coords: np.ndarray, classes: np.ndarray, labels: tuple[str, ...],
             point: np.ndarray | None, nearest: np.ndarray | None) -> None:
    """Reference cases (``coords``, ``classes`` indexing ``labels``) coloured by class, the case's nearest
    references ringed, the case as a star. Plain arrays, so the plots process gets only what it draws."""
    ax = figure.add_subplot(111)
    size = 10 if len(coords) < 400 else 4
    for index, label in enumerate(labels):
        chosen = classes == index
        ax.scatter(coords[chosen, 0], coords[chosen, 1], s=size, alpha=0.55, linewidths=0,
                   color=CLASS_COLOURS[index % len(CLASS_COLOURS)], label=f"{label} ({int(chosen.sum())})")
    if nearest is not None and len(nearest):
        near = coords[nearest]
        ax.scatter(near[:, 0], near[:, 1], s=70, facecolors="none", edgecolors="black", linewidths=1.0,
                   label="nearest references", zorder=4)
    if point is not None:
        ax.scatter([point[0]], [point[1]], marker="*", s=320, color=CASE_COLOUR, edgecolor="black",
                   linewidth=1.2, label="this case", zorder=5)
    # A corner away from the case ("best" searches every position against every point, ~0.1 s of text layout
    # per draw): a legend over the star would hide the one point the reader looks for.
    legend = ax.legend(loc=legend_corner(coords, point), fontsize=7, framealpha=0.85)
    for handle in legend.legend_handles:
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([30])
    ax.set_title("t-SNE map of the model's reference cases", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


TICK_PT = 8  # the attention plot's tick labels: at 6 pt they were unreadable on a clinical screen


def draw_attention(figure: Figure, attention: np.ndarray | None, token_mixing: np.ndarray | None,
                   names: list[str]) -> None:
    """One heatmap per diagnosis token (LLM layer × source token, heads averaged), plus the token-engine map."""
    tokens = attention.shape[2] if attention is not None else 0
    depth = attention.shape[3] if attention is not None else token_mixing.shape[0]  # type: ignore[union-attr]
    panels = max(tokens, 1 if attention is None else 0) + (1 if token_mixing is not None else 0)
    axes = figure.subplots(1, panels, squeeze=False)[0]
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
            ax.set_xticks(range(depth), names, fontsize=TICK_PT, rotation=90)
            step = max(1, layers // 6)
            ticks = list(range(0, layers, step))
            ax.set_yticks(ticks, [str(t + 1) for t in ticks] if token == 0 else [""] * len(ticks), fontsize=TICK_PT)
            if token == 0:
                ax.set_ylabel("LLM layer", fontsize=7)
        if shown is not None:
            bar = figure.colorbar(shown, ax=list(axes[:tokens]), fraction=0.04, pad=0.02)
            bar.ax.tick_params(labelsize=TICK_PT)
    if token_mixing is not None:
        ax = axes[-1]
        image = ax.imshow(token_mixing, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title("token-engine map M_c", fontsize=8)
        ax.set_yticks(range(token_mixing.shape[0]), names, fontsize=TICK_PT)
        ax.set_xticks(range(token_mixing.shape[1]), [f"t{i + 1}" for i in range(token_mixing.shape[1])],
                      fontsize=TICK_PT)
        bar = figure.colorbar(image, ax=ax, fraction=0.08)
        bar.ax.tick_params(labelsize=TICK_PT)


class MapCanvas(FigureView):
    """Reference cases coloured by class; the current case as a star, its nearest references ringed.

    Hovering the star lists the case's nearest reference cases (``ReferenceMap.nearest``, embedding space);
    hovering elsewhere names the reference case under the pointer. There are no images for references.
    """

    hover_text = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.reference: ReferenceMap | None = None
        self.point: np.ndarray | None = None
        self.nearest: np.ndarray | None = None  # indices of the case's nearest reference cases
        self.setMouseTracking(True)
        self.show_message("No case yet")

    def show_message(self, text: str) -> None:
        self.reference, self.point, self.nearest = None, None, None
        self.show_text(text)

    def show_map(self, reference: ReferenceMap, point: np.ndarray | None, nearest: np.ndarray | None = None) -> None:
        self.reference, self.point = reference, point
        self.nearest = None if nearest is None else np.asarray(nearest, int)
        self.show_drawing(partial(draw_map, coords=reference.coords, classes=reference.classes,
                                  labels=tuple(reference.labels), point=point, nearest=self.nearest))

    def nearest_text(self) -> str:
        if self.reference is None or self.nearest is None or not len(self.nearest):
            return ""
        labels = [self.reference.labels[int(self.reference.classes[i])] for i in self.nearest]
        text = f"This case's {len(labels)} nearest reference cases (embedding space): {_class_counts(labels)}."
        if self.point is not None and self.reference.strays_from(self.point, self.nearest):
            text += (" The star is placed by t-SNE, which puts it away from these ringed cases: the map keeps "
                     "neighbourhoods only roughly, the ringed cases are the nearer ones.")
        return text

    def mouseMoveEvent(self, event) -> None:
        super().mouseMoveEvent(event)
        if self.reference is not None and self.picture is not None and self.picture.frames:
            where = self.picture.frames[0].data_at(*self.picture_point(event.position().x(), event.position().y()))
            if where is not None:
                self.hover_at(*where)

    def hover_at(self, x: float, y: float) -> None:
        """What lies at data point (x, y): the case, one reference case, or the references nearest the pointer."""
        assert self.reference is not None
        coords = self.reference.coords
        span = float(np.ptp(coords, axis=0).max()) or 1.0
        if self.point is not None and np.hypot(*(self.point - (x, y))) < 0.04 * span:
            self.hover_text.emit(self.nearest_text() or "This case.")
            return
        distances = np.hypot(coords[:, 0] - x, coords[:, 1] - y)
        index = int(np.argmin(distances))
        if distances[index] < 0.03 * span:
            label = self.reference.labels[int(self.reference.classes[index])]
            self.hover_text.emit(f"Reference case #{index + 1}: {label} (reference cases have no images here).")
        else:
            nearest = np.argsort(distances)[:5]
            labels = [self.reference.labels[int(self.reference.classes[i])] for i in nearest]
            self.hover_text.emit(f"Reference cases nearest the pointer: {_class_counts(labels)}.")


class AttentionCanvas(FigureView):
    """One heatmap per diagnosis token (LLM layer × source token, heads averaged), plus the token-engine map M_c."""

    def __init__(self) -> None:
        super().__init__()
        self.attention: np.ndarray | None = None
        self.token_mixing: np.ndarray | None = None
        self.show_message("No case yet")

    def show_message(self, text: str) -> None:
        self.show_text(text)

    @property
    def heatmap_count(self) -> int:
        """Heatmaps in the picture last rendered (0 before it arrives)."""
        return 0 if self.picture is None else self.picture.image_count

    def show_attention(self, attention: np.ndarray | None, token_mixing: np.ndarray | None,
                       source_names: list[str]) -> None:
        """``attention`` (L, H, m, d) and ``token_mixing`` (d, m); either may be None (ablated models)."""
        self.attention, self.token_mixing = attention, token_mixing
        if attention is None and token_mixing is None:
            self.show_message("No diagnosis tokens to show: this model was trained without the multi-token engine "
                              "(ablation), so there is no emitter attention or token-engine map.")
            return
        depth = attention.shape[3] if attention is not None else token_mixing.shape[0]  # type: ignore[union-attr]
        names = source_names if len(source_names) == depth else [f"source {i + 1}" for i in range(depth)]
        self.show_drawing(partial(draw_attention, attention=attention, token_mixing=token_mixing, names=names))
