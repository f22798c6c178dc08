"""What the benchmarks share: a throw-away RabbitMQ vhost per run, and
reading the events that queues of our own collected."""
import json
import os
import uuid

import requests
from kombu import Connection

MGMT = os.environ.get("RABBIT_CTL_URI", "http://guest:guest@127.0.0.1:15672")


def make_vhost(prefix="leerlingbus_bench"):
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    requests.put(f"{MGMT}/api/vhosts/{name}", timeout=10).raise_for_status()
    requests.put(f"{MGMT}/api/permissions/{name}/guest",
                 json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    return name


def drop_vhost(name):
    requests.delete(f"{MGMT}/api/vhosts/{name}", timeout=10)


def drain_bodies(amqp_uri, queues):
    """Every message body waiting in `queues` (decoded envelopes), acknowledged;
    the queues are deleted afterwards."""
    bodies = []
    with Connection(amqp_uri) as conn:
        for queue in queues:
            with conn.SimpleQueue(queue) as simple:
                while True:
                    try:
                        message = simple.get(block=True, timeout=2)
                    except simple.Empty:
                        break
                    payload = message.payload
                    bodies.append(payload if isinstance(payload, dict) else json.loads(payload))
                    message.ack()
            queue(conn.default_channel).delete()
    return bodies
