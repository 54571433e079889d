"""Keep Python's garbage collector from freezing the window.

A full collection walks every tracked object while holding the interpreter lock. With PyTorch, transformers,
matplotlib and Qt imported that is over half a million objects and 0.5-0.7 s, whichever thread triggers it
(``benchmarks/bench_gui.py`` caught it during model loading, inside transformers' model constructor). The
libraries live as long as the process, so once imported they are moved out of the collector's sight
(``gc.freeze``); later collections walk only what was made since. A model is not frozen: a replaced head's
model must stay collectable (frozen objects in reference cycles would never be freed), and without the
libraries in the way a collection over a model's objects is short.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def freeze_libraries() -> None:
    """Free what is already garbage, then exempt every object alive now from future collections. The full
    collection first is a pause: call this where nobody waits (under the splash, after the imports)."""
    began = time.perf_counter()
    gc.collect()
    gc.freeze()  # O(1): the generations' lists are spliced (gc.get_freeze_count() would walk them all)
    log.debug("froze the libraries' objects (%.0f ms)", (time.perf_counter() - began) * 1000)
