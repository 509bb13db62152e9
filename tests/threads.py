"""Helpers for tests that run code in several threads at once."""

import time


def wait_until(condition, seconds: float = 10.0) -> None:
    """Wait for the other threads to reach a point: a bound that only stops a hang, not a timing."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the other threads did not arrive")
        time.sleep(0.001)
