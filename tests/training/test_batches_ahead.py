"""Batches drawn ahead on a thread: the same batches in the same order as drawing each in its update, the
random streams left where they would be, errors raised with their traceback, nothing left running."""

import threading
import time
import traceback

import numpy as np
import pytest

from diamond.training.batches_ahead import BatchesAhead


def test_the_batches_and_the_random_stream_are_those_of_drawing_in_turn():
    ahead_rng, own_rng = np.random.default_rng(5), np.random.default_rng(5)
    with BatchesAhead(lambda: ahead_rng.integers(0, 1000, size=3), 7) as ahead:
        drawn = [ahead.next() for _ in range(7)]
    expected = [own_rng.integers(0, 1000, size=3) for _ in range(7)]
    assert all((a == b).all() for a, b in zip(drawn, expected))
    # exactly 7 draws: the next value of both streams agrees
    assert ahead_rng.integers(0, 1 << 30) == own_rng.integers(0, 1 << 30)
    with pytest.raises(RuntimeError, match="every batch it was asked for has been used"):
        ahead.next()


def failing_draw():
    raise KeyError("episode 12 is gone")


def test_an_error_in_a_draw_is_raised_by_next_with_its_traceback():
    with BatchesAhead(failing_draw, 3) as ahead, pytest.raises(KeyError, match="episode 12 is gone") as info:
        ahead.next()
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "failing_draw" in frames  # where it happened, on the thread


def test_leaving_early_stops_the_thread_after_at_most_a_few_draws():
    calls = []

    def slow_draw():
        calls.append(1)
        time.sleep(0.01)
        return len(calls)

    with BatchesAhead(slow_draw, 1000, depth=2) as ahead:
        assert [ahead.next() for _ in range(3)] == [1, 2, 3]
    time.sleep(0.05)
    assert len(calls) <= 3 + 2 + 1  # the used ones, the ones held ready, the one in progress
    assert not any(t.name == "batches-ahead" and t.is_alive() for t in threading.enumerate())


def test_a_drawing_thread_that_ends_early_is_an_error_not_a_hang():
    class Quitter(BatchesAhead):
        def _draw_all(self, draw, count):  # ends without handing anything over
            return None

    with Quitter(lambda: 1, 2) as ahead, pytest.raises(RuntimeError, match="ended without handing over a batch"):
        ahead.next()
