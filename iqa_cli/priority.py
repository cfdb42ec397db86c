"""The priority of background decode threads (a leaf: imports nothing of iqa's).

Scoring runs in the calling thread, and its C kernels split each image (or
frame) across the cores and wait for the slowest strip; decoding should fill
the time they leave rather than take a core from a strip. So the threads that
decode ahead -- the runner's pool and the video decode thread (whose FFmpeg
threads inherit it) -- lower their own priority by :data:`DECODE_NICE`.
"""

from __future__ import annotations

import os
import threading

#: nice value added to decode threads; ``IQA_DECODE_NICE`` overrides it (0 leaves priorities alone)
DECODE_NICE = 10


def decode_nice() -> int:
    """The nice value decode threads take now: ``IQA_DECODE_NICE`` or :data:`DECODE_NICE`."""
    return int(os.environ.get("IQA_DECODE_NICE", DECODE_NICE))


def lower_priority(nice: int | None = None) -> None:
    """Lower the calling thread's priority by ``nice`` (default :func:`decode_nice`).
    Linux nice values are per thread; elsewhere, or when not permitted, nothing happens."""
    nice = decode_nice() if nice is None else int(nice)
    if not nice or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError):  # not permitted or not per-thread here: run as is
        pass
