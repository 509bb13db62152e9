"""Waiting, in tests, for other threads or processes to reach a point."""

import time


def wait_until(condition, seconds: float = 10.0) -> None:
    """Wait until `condition()` holds: a bound that only stops a hang, not a timing."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.001)
