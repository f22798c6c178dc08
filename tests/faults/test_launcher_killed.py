"""A launcher killed with SIGKILL takes every child with it: no orphans left
consuming the queues of a next `make run`."""
import signal

import requests

from tests.faults.harness import System, alive, wait_for


def test_the_launcher_killed_leaves_no_orphan(broker, tmp_path):
    system = System(tmp_path, broker.uri).start()
    try:
        pids = system.pids()
        assert set(pids) == {"users", "students", "uploads", "sync", "oso", "gateway", "web"}
        system.process.send_signal(signal.SIGKILL)
        system.process.wait(timeout=10)
        wait_for(lambda: not any(alive(p) for p in pids.values()), 15,
                 what=f"children gone: {[n for n, p in pids.items() if alive(p)]}")
        try:
            requests.get(system.url + "/health", timeout=3)
            raise AssertionError("the gateway still answers")
        except requests.ConnectionError:
            pass
        # and the data dir is free for the next launcher
        again = System(tmp_path / "again", broker.uri)
        again.data_dir = system.data_dir
        again.env["LEERLINGBUS_DATA_DIR"] = str(system.data_dir)
        again.start()
        again.wait_healthy(timeout=60)
        again.stop()
    finally:
        system.stop()
