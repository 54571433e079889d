"""The fine-tune wizard, one module per page; ``FinetuneWizard`` is the entry point."""

from viewer.finetune.wizard import FinetuneWizard

__all__ = ["FinetuneWizard"]
