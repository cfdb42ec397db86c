"""Start-up: Python's cyclic garbage collector is off until torch is imported.

Importing torch creates ~10^6 objects; the full collections they trigger cost
~0.2 s of start-up, then ~0.1 s more in later imports that rescan them.
Nothing of iqa's own is collected earlier.
"""

from __future__ import annotations

import gc

_deferred = False


def defer_gc() -> None:
    global _deferred
    if gc.isenabled():
        _deferred = True
        gc.disable()


def resume_gc() -> None:
    """After torch is in: its objects go to the permanent generation, collections resume."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()
