"""pipeline.in_order: a load's chunks run a few at a time and are taken in
their order; stopping early or a failing chunk waits for the others."""
import contextlib

import eventlet
import pytest

from services.uploads.pipeline import in_order


def test_results_come_in_order_with_at_most_parallel_running():
    running, peak = [0], [0]

    def work(item):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        eventlet.sleep(0.01 * (5 - item % 5))  # later items finish first
        running[0] -= 1
        return item * 10

    assert list(in_order(work, range(12), 3)) == [(i, i * 10) for i in range(12)]
    assert peak[0] == 3


def test_one_at_a_time_when_parallel_is_one():
    order = []

    def work(item):
        order.append(("start", item))
        eventlet.sleep(0.001)
        order.append(("end", item))
        return item

    assert [r for _i, r in in_order(work, range(3), 1)] == [0, 1, 2]
    assert order == [("start", 0), ("end", 0), ("start", 1), ("end", 1),
                     ("start", 2), ("end", 2)]


def test_stopping_early_waits_for_the_chunks_still_running():
    finished = []

    def work(item):
        eventlet.sleep(0.02 if item else 0)
        finished.append(item)
        return item

    with contextlib.closing(in_order(work, range(10), 3)) as results:
        for item, _result in results:
            if item == 0:
                break
    assert sorted(finished) == [0, 1, 2]  # started beside the first, finished; no more


def test_a_failing_chunk_raises_after_the_others_finished():
    finished = []

    def work(item):
        if item == 1:
            raise RuntimeError("chunk 1 refused")
        eventlet.sleep(0.02)
        finished.append(item)
        return item

    seen = []
    with pytest.raises(RuntimeError, match="chunk 1"):
        for item, _result in in_order(work, range(6), 3):
            seen.append(item)
    assert seen == [0]
    assert sorted(finished) == [0, 2, 3]  # 2 and 3 ran beside 1


def test_go_on_starts_the_next_call_before_the_result_is_handed_over():
    started = []

    def work(item):
        started.append(item)
        eventlet.sleep(0)
        return "stop" if item == 3 else "ok"

    seen = []
    with contextlib.closing(in_order(work, range(10), 2,
                                     go_on=lambda result: result == "ok")) as results:
        for item, result in results:
            # while the caller works with a result (saving progress: it waits on
            # I/O), the slot it freed is already taken
            eventlet.sleep(0)
            seen.append((item, sorted(started)))
            if result == "stop":
                break
    assert seen[0] == (0, [0, 1, 2])
    assert seen[1] == (1, [0, 1, 2, 3])
    # item 3 said stop: nothing started for it; 4 had started when 2 came back
    assert seen[-1] == (3, [0, 1, 2, 3, 4])
    assert sorted(started) == [0, 1, 2, 3, 4]
