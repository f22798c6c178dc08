"""RabbitMQ stopped for 20 s and started again while the system runs: every
service and the gateway reconnect by themselves (none dies, none is restarted),
no call hangs past its deadline, and an event committed to an outbox during the
outage is published afterwards, once per event_id."""
import json
import threading
import time
import uuid

import sqlalchemy as sa
from kombu import Connection, Consumer, Exchange, Queue
from sqlalchemy.orm import Session

from services.common.outbox import write_outbox
from tests.faults.harness import wait_for

OUTAGE = 20.0


def probe_queue(broker_uri):
    """A durable queue of our own on users.events, for the probe events."""
    exchange = Exchange("users.events", type="topic", durable=True, auto_delete=False)
    queue = Queue(f"faults-probe-{uuid.uuid4().hex[:8]}", exchange=exchange,
                  routing_key="fault_probe", durable=True, auto_delete=False)
    with Connection(broker_uri) as conn:
        queue(conn.channel()).declare()
    return queue


def drain(broker_uri, queue, seconds):
    """Every body on `queue` within `seconds`."""
    bodies = []
    with Connection(broker_uri) as conn:
        with Consumer(conn, queues=[queue], accept=["json"],
                      callbacks=[lambda body, msg: (bodies.append(body), msg.ack())]):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.5)
                except OSError:  # socket.timeout
                    pass
    return [json.loads(b) if isinstance(b, (str, bytes)) else b for b in bodies]


def commit_probe_events(data_dir, count):
    """What a users write does while the broker is away: the change and its
    events committed, the publish failing (the relay owes them)."""
    engine = sa.create_engine(f"sqlite:///{data_dir / 'users.sqlite3'}")
    try:
        with Session(engine) as session:
            rows = write_outbox(session, "users", [("fault_probe", 1, {"n": n}, 1)
                                                   for n in range(count)])
            session.commit()
    finally:
        engine.dispose()
    return {row["event_id"] for row in rows}


def test_a_broker_restart_is_survived(running, broker):
    client = running.client()
    inst, admin = client.make_school("22BB", "Het Brokercollege")
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
