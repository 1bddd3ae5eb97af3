"""graph/heap.py: what exists when an app starts serving is frozen out of full garbage
collections until the last app of the process stops (tests run several at once)."""

from __future__ import annotations

import gc
import weakref

from graph.heap import start_up_frozen


class Held:
    """A tracked object (instances with a __dict__ are)."""


def walked(target: object) -> bool:
    return any(tracked is target for tracked in gc.get_objects())


def test_frozen_while_an_app_serves_and_collectable_after_the_last_stops() -> None:
    before = Held()
    assert walked(before)
    with start_up_frozen():
        assert not walked(before)
        between = Held()  # made after the first app's start-up, before the second's
        assert walked(between)
        with start_up_frozen():
            assert not walked(between)
        assert not walked(before) and not walked(between)  # the first app still serves
    assert walked(before) and walked(between)


def test_garbage_of_the_start_up_is_freed_not_frozen_for_good() -> None:
    cycle = Held()
    cycle.itself = cycle  # only a collection frees it
    gone = weakref.ref(cycle)
    del cycle
    with start_up_frozen():
        assert gone() is None
