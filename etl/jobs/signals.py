"""SIGTERM as an exception, so a stopped runner or workflow engine records STOPPED and cleans up."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def stop_on_sigterm(error: type[BaseException]) -> Iterator[None]:
    """Within the block, SIGTERM raises ``error("stopped by signal SIGTERM")``; only the main thread
    can install a handler, so elsewhere the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise error(f"stopped by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
