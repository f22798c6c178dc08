"""What the benchmarks share: a throw-away RabbitMQ vhost per run."""
import os
import uuid

import requests

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
