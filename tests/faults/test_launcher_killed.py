"""A launcher killed with SIGKILL takes every child with it: no orphans left
consuming the queues of a next `make run`; SIGTERM ends everything within the grace
period whatever state the broker is in."""
import signal
import subprocess
import time

import requests

from tests.faults.harness import ROOT, System, alive, free_port, wait_for


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


def test_sigterm_stops_everything_with_the_broker_gone(broker, tmp_path):
    """The broker stopped under a running system: SIGTERM still ends every process
    within the grace period (SIGKILL after it), once."""
    system = System(tmp_path, broker.uri).start()
    try:
        pids = system.pids()
        broker.stop()
        time.sleep(2)  # the services notice
        started = time.monotonic()
        system.process.send_signal(signal.SIGTERM)
        assert system.process.wait(timeout=30) == 0
        assert time.monotonic() - started < 5 + 10  # --grace 5, then SIGKILL and reaping
        wait_for(lambda: not any(alive(p) for p in pids.values()), 10, what="children gone")
    finally:
        system.stop()
        if not broker.answers():
            broker.start()


def test_sigterm_while_starting_against_a_dead_broker(tmp_path):
    """Nothing answers at AMQP_URI: the launcher waits for /health; SIGTERM then
    stops it and its children at once instead of being ignored."""
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    system = System(tmp_path, dead)
    system.base.mkdir(parents=True, exist_ok=True)
    log = open(system.log_path, "ab")
    system.process = subprocess.Popen(system.launcher_argv(), cwd=ROOT, env=system.env,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
    log.close()
    try:
        wait_for(lambda: "waiting for http" in system.output(), 90, what="launcher waiting")
        pids = system.pids()
        assert pids
        started = time.monotonic()
        system.process.send_signal(signal.SIGTERM)
        assert system.process.wait(timeout=30) == 0, system.output()[-3000:]
        assert time.monotonic() - started < 5 + 10
        wait_for(lambda: not any(alive(p) for p in pids.values()), 10, what="children gone")
    finally:
        if system.process.poll() is None:
            system.process.kill()


def test_sigterm_stops_everything_after_its_vhost_was_deleted(broker, tmp_path):
    """The vhost deleted under a running system (its services cannot reconnect):
    SIGTERM still ends the launcher and every child within the grace period."""
    vhost = f"faults-{tmp_path.name}"
    broker.ctl("add_vhost", vhost)
    broker.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    system = System(tmp_path, broker.uri + vhost).start()
    try:
        pids = system.pids()
        broker.ctl("delete_vhost", vhost)
        time.sleep(3)  # the services lose their connections and retry in vain
        started = time.monotonic()
        system.process.send_signal(signal.SIGTERM)
        system.process.wait(timeout=30)
        assert time.monotonic() - started < 5 + 10, system.output()[-3000:]
        everyone = set(pids.values()) | set(system.pids().values())
        wait_for(lambda: not any(alive(p) for p in everyone), 10, what="children gone")
    finally:
        system.stop()
