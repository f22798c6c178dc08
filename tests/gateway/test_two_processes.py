"""Two `python -m gateway` processes on one port (SO_REUSEPORT,
LEERLINGBUS_GATEWAY_REUSEPORT): both listen, Linux spreads new connections
over them, and each answers; with the setting off the second one cannot
bind. Real processes on a real broker (no services needed: the requests are
refused before any RPC)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.faults.harness import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 40


def gateway(rabbit_config, tmp_path, name, port, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEERLINGBUS_")}
    env.update(AMQP_URI=rabbit_config["AMQP_URI"], LEERLINGBUS_HTTP_PORT=str(port),
               LEERLINGBUS_DATA_DIR=str(tmp_path), LEERLINGBUS_LOG_LEVEL="INFO",
               LEERLINGBUS_SECRET_KEY="two-gateways-test-key-" + "x" * 32, PYTHONUNBUFFERED="1",
               **extra)
    log = tmp_path / f"{name}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def started(proc):
    """True once the process listens, False once it has exited."""
    def check():
        if "gateway listening" in proc.log.read_text():
            return "listening"
        return "exited" if proc.poll() is not None else None
    return wait_for(check, 30, interval=0.1, what=f"{proc.log.name} starts") == "listening"


def stop(*procs):
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=10)


@pytest.fixture
def port():
    return free_port()


def test_two_gateways_on_one_port_both_answer(rabbit_config, tmp_path, port):
    first = gateway(rabbit_config, tmp_path, "first", port)
    second = gateway(rabbit_config, tmp_path, "second", port)
    try:
        assert started(first) and started(second), second.log.read_text()
        for _ in range(CONNECTIONS):  # a new connection each: the kernel picks a process
            r = requests.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=10,
                             headers={"Connection": "close"})
            assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
        time.sleep(0.2)
    finally:
        stop(first, second)
    served = [proc.log.read_text().count("GET /api/v1/me 401") for proc in (first, second)]
    assert sum(served) == CONNECTIONS and min(served) > 0, served


def test_without_reuseport_a_second_gateway_cannot_bind(rabbit_config, tmp_path, port):
    first = gateway(rabbit_config, tmp_path, "first", port, LEERLINGBUS_GATEWAY_REUSEPORT="0")
    second = None
    try:
        assert started(first)
        second = gateway(rabbit_config, tmp_path, "second", port,
                         LEERLINGBUS_GATEWAY_REUSEPORT="0")
        assert second.wait(timeout=30) != 0
        assert "Address already in use" in second.log.read_text()
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=10).status_code == 401
    finally:
        stop(*[p for p in (first, second) if p is not None])
