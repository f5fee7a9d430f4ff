"""Keeping the garbage collector's pauses short in long-running workers.

CPython's full collections walk every tracked object. A worker holds hundreds of thousands
that live as long as it does (modules, the Kafka clients, a loaded model), and walking them
stopped the event loop for up to 180 ms at a time (measured in the pipeline worker at 2,500
chunks a second: six full collections in a minute, each 60-180 ms, every one a latency spike
for all sessions). Frozen, they are left out of every collection, so a full collection only
walks what was made since.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Everything alive now lives as long as the process: exempt it from collection.

    Call it once the long-lived state is built (after imports, after a model is loaded); a
    later call freezes what was made since. Garbage still left now is collected first, so
    none of it is kept forever.
    """
    gc.collect()
    gc.freeze()
