"""RabbitMQ stopped for 20 s and started again while the system runs: every
service and the gateway reconnect by themselves (none dies, none is restarted),
no call hangs past its deadline, and an event committed to an outbox during the
outage is published afterwards, once per event_id."""
import threading
import time

from tests.faults.harness import commit_probe_events, drain, probe_queue, wait_for

OUTAGE = 20.0


def test_a_broker_restart_is_survived(running, broker):
    client = running.client()
    _inst, admin = client.make_school("22BB", "Het Brokercollege")
    queue = probe_queue(broker.uri)
    pids = running.pids()

    in_flight = {}

    def call_during_stop():
        started = time.monotonic()
        r = client.request("GET", "/students", admin, timeout=60)
        in_flight.update(status=r.status_code, took=time.monotonic() - started)

    caller = threading.Thread(target=call_during_stop)
    caller.start()
    broker.stop()
    stopped = time.monotonic()
    caller.join(timeout=60)
    assert in_flight["status"] in (200, 503) and in_flight["took"] < running.rpc_timeout + 5

    # during the outage: answers are 503 within the deadline, never a hang
    started = time.monotonic()
    r = client.request("GET", "/students", admin, timeout=60)
    assert r.status_code == 503 and r.json()["code"] == "service_unavailable", r.text
    assert time.monotonic() - started < running.rpc_timeout + 5
    sent = commit_probe_events(running.data_dir, 3)
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))

    broker.start()
    restarted = time.monotonic()
    wait_for(lambda: client.request("GET", "/students", admin).status_code == 200, 60,
             interval=0.2, what="GET /students answers after the broker restart")
    first_answer = time.monotonic() - restarted
    running.wait_healthy(timeout=60)  # every service reconnected

    bodies = drain(broker.uri, queue, 8)
    seen = [b["event_id"] for b in bodies]
    assert sorted(seen) == sorted(sent), (seen, sent)  # each once
    # nobody died on the way: the launcher restarted nothing
    assert running.pids() == pids, running.output()[-4000:]
    assert "thread exited with error" not in running.output()
    # writes work again end to end
    client.ok("POST", "/users", admin, 201, json={
        "code": "424242", "first_name": "Na", "last_name": "Herstart",
        "is_student": True, "password": "Leerling-wachtwoord-1"})
    print(f"first answer {first_answer:.1f} s after the broker restart")
