"""The uploads service's heap: large buffers always mapped and unmapped.

glibc raises its mmap threshold each time a large block is freed (up to
32 MB), after which blocks of that size come from the heap and the arenas of
the threads that used them (eventlet's tpool), where freed memory stays
resident: each list received (a few MB read, hashed and inspected in a tpool
thread) left ~8 MB more, 135 MB after three 50,000-row lists. A fixed
threshold (glibc's default of 128 kB) turns that dynamic raise off, so a
received file's memory goes back to the system when it is freed.
"""
import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def fix_mmap_threshold(threshold=MMAP_THRESHOLD):
    """True when set (glibc); elsewhere nothing happens and False."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    if not ok:  # pragma: no cover - glibc refuses only out-of-range values
        log.warning("mallopt(M_MMAP_THRESHOLD) refused")
    return ok
