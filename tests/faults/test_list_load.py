"""Crashes and a broker restart while an approved list loads: afterwards every row
is there exactly once, with no orphan account, and the list's status and counts are
right. Loading resumes after a crash by the work of the uploads service's resume
timer; a half-done cross-service step must be completed, not refused.

The size is LEERLINGBUS_FAULT_LIST_ROWS (default 20,000; the broker test uses a
quarter of it)."""
import os
import time

import pytest

from tests.faults.harness import (
    approved_list,
    assert_loaded_exactly_once,
    big_list,
    kill_when_loaded,
    wait_for,
)

ROWS = int(os.environ.get("LEERLINGBUS_FAULT_LIST_ROWS", "20000"))


@pytest.fixture(scope="module")
def list_file():
    return big_list(ROWS)


@pytest.mark.parametrize("service, fraction, brin", [
    ("students", 0.3, "41AA"),
    ("uploads", 0.6, "42AA"),
])
def test_a_service_killed_while_a_big_list_loads(running, list_file, service, fraction, brin):
    client = running.client()
    _inst, admin, upload_id = approved_list(client, list_file, brin)
    pid, at = kill_when_loaded(running, client, upload_id, service, int(ROWS * fraction))
    assert pid is not None, f"the list finished loading ({at} rows) before the kill"
    running.wait_restarted(service, pid, timeout=60)
    assert_loaded_exactly_once(client, upload_id, admin, ROWS)


def test_the_broker_restarted_while_a_list_loads(running, broker):
    client = running.client()
    rows = max(1000, ROWS // 4)
    _inst, admin, upload_id = approved_list(client, big_list(rows), "43AA")
    wait_for(lambda: (lambda b: b["status"] != "loading" or (b.get("loaded") or 0) >= rows // 5)(
        client.upload(upload_id)), 600, interval=0.05, what="a fifth of the list loaded")
    pids = running.pids()
    broker.stop()
    time.sleep(20)
    broker.start()
    running.wait_healthy(timeout=90)
    assert running.pids() == pids, "a service died during the broker restart"
    assert "thread exited with error" not in running.output()
    assert_loaded_exactly_once(client, upload_id, admin, rows)
    assert running.pids() == pids, "a service died while the list finished loading"
