"""The fine-tune wizard, one module per page; ``FinetuneWizard`` is the entry point.

``FinetuneWizard`` is imported on first use: the plots process imports ``viewer.finetune.canvases`` to draw the
wizard's figures and must not pull in the pages (and torch) with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from viewer.finetune.wizard import FinetuneWizard

__all__ = ["FinetuneWizard"]


def __getattr__(name: str) -> Any:
    if name == "FinetuneWizard":
        from viewer.finetune.wizard import FinetuneWizard

        return FinetuneWizard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
