"""Ctrl-C during a fit, as a test sends it."""

from __future__ import annotations

import signal
import threading
import time

import pytest


def fit_with_ctrl_c_after(reg, X, y, seconds: float = 0.5) -> float:
    """Fits with a SIGINT sent to the main thread ``seconds`` in; checks the warning
    scikit-learn's MLP gives, and returns how long fit took to stop after it."""

    def send():
        time.sleep(seconds)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    # Python's own handler, as in a terminal: a shell starts background jobs with
    # SIGINT ignored, and the signal would then never reach the fit.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=send, daemon=True).start()
        start = time.perf_counter()
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            reg.fit(X, y)
        return time.perf_counter() - start - seconds
    finally:
        signal.signal(signal.SIGINT, previous)
