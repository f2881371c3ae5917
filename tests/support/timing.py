"""Measuring what a request costs the server, unmoved by a busy machine.

The timing tests compare the cost of two answers (unknown user and wrong password).
Wall-clock time on a shared machine also counts the moments the test was not running at
all, which swamps a 10 % bound. The CPU time of this process (every thread: the event
loop, the argon2 pool, SQLite's threads) counts only the work done for the request,
which is what would differ if one answer skipped the password hash.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def cpu_time(work: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """The CPU seconds this process spent while `work` ran, and its result."""
    started = time.process_time()
    result = await work()
    return time.process_time() - started, result


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    return statistics.median(numerator) / statistics.median(denominator)
