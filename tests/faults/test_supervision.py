"""The launcher supervises: a child killed with SIGKILL is restarted, the gateway
answers 503 for a service that is down and recovers by itself."""
import os
import signal
import subprocess
import time

from tests.faults.harness import ROOT, commit_probe_events, drain, probe_queue, wait_for


def test_the_gateway_killed_is_restarted_and_answers_again(running):
    client = running.client()
    old = running.kill("gateway")
    new = running.wait_restarted("gateway", old, timeout=30)
    assert new != old
    elapsed = running.wait_healthy(timeout=60)
    assert elapsed < 60
    assert client.as_helpdesk()  # a login goes through users again
    out = running.output()
    assert f"gateway (pid {old}) died with signal 9" in out
    assert f"restarted gateway (pid {new}" in out


def test_students_killed_gives_503_meanwhile_then_answers(running):
    client = running.client()
    _inst, admin = client.make_school("11AA", "Het Herstartcollege")
    assert client.ok("GET", "/students", admin)["total"] == 0
    # Hold the launcher so the restart waits: the window in which students is
    # down is then ours to observe.
    os.kill(running.process.pid, signal.SIGSTOP)
    try:
        old = running.kill("students")
        started = time.monotonic()
        r = client.request("GET", "/students", admin, timeout=30)
        took = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.headers["Content-Type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "service_unavailable" and body["service"] == "students"
        assert "tijdelijk niet bereikbaar" in body["detail"]
        assert took < running.rpc_timeout + 3  # a deadline, not a hang
        # routes that do not need students still answer
        assert client.ok("GET", "/users", admin)["total"] >= 1
    finally:
        os.kill(running.process.pid, signal.SIGCONT)
    running.wait_restarted("students", old, timeout=30)
    # the gateway was not restarted and recovers by itself
    wait_for(lambda: client.request("GET", "/students", admin).status_code == 200, 60,
             what="GET /students answers again")
    assert f"students (pid {old}) died with signal 9" in running.output()


def test_a_second_launcher_on_the_same_data_dir_refuses(running):
    result = subprocess.run(running.launcher_argv(), cwd=ROOT, env=running.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    assert (f"another launcher (pid {running.process.pid}) is already running on the data "
            f"dir {running.data_dir}") in result.stderr
    running.wait_healthy(timeout=10)  # the first one is undisturbed


def test_events_committed_just_before_a_kill_go_out_after_the_restart(running, broker):
    """users committed a change and its events, then died before publishing them
    (held with SIGSTOP so it cannot, then SIGKILL): the restarted users publishes
    them, once per event_id."""
    queue = probe_queue(broker.uri)
    pid = running.pids()["users"]
    os.kill(pid, signal.SIGSTOP)
    try:
        sent = commit_probe_events(running.data_dir, 3)
    finally:
        os.kill(pid, signal.SIGKILL)
    running.wait_restarted("users", pid, timeout=30)
    bodies = drain(broker.uri, queue, 10)
    assert sorted(b["event_id"] for b in bodies) == sorted(sent)
