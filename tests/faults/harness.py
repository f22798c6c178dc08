"""What the fault tests (and bench/faults_bench.py) drive: a private RabbitMQ node and
the whole system started by the launcher, as `make run` starts it.

PrivateBroker runs its own node (own node name, AMQP and distribution ports, data and
log dirs, no plugins) in the foreground as our child, so stopping and restarting it
disturbs no other broker. System runs `python -m deploy.run` on its own data dir and
ports against that broker, finds the launcher's children by their command lines, kills
them, and drives the HTTP API (FaultClient: helpdesk, a school with an admin, lists).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa
from kombu import Connection, Consumer, Exchange, Queue
from sqlalchemy.orm import Session

from deploy.rabbitmq import amqp_answers, which
from services.common.outbox import write_outbox

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
HELPDESK_PASSWORD = "Fouten-helpdesk-wachtwoord-1"
ADMIN_PASSWORD = "Fouten-beheer-wachtwoord-1"
LIST_FORM = {"school_type": "vo", "student_type": "potential_transfer", "name": "Janneke Wolff",
             "email": "j.wolff@school.nl", "note": "Fouttest"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.2, what="condition"):
    """The first truthy value of predicate(), or AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def rabbitmq_server():
    """The server script that runs as the current user (the sbin wrapper may
    switch to the rabbitmq user, who cannot write our data dir)."""
    direct = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    return str(direct) if direct.exists() else which("rabbitmq-server")


class PrivateBroker:
    def __init__(self, base_dir):
        self.base = Path(base_dir)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"leerlingbus-faults-{uuid.uuid4().hex[:8]}@localhost"
        self.process = None
        self.server = rabbitmq_server()
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("")

    @property
    def uri(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self):
        b = self.base
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(b / "mnesia"), "RABBITMQ_LOG_BASE": str(b / "log"),
            "RABBITMQ_PID_FILE": str(b / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(b / "rabbitmq-env.conf"),  # not /etc's NODENAME
            "RABBITMQ_CONFIG_FILE": str(b / "none"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(b / "none-advanced.config"),
            "HOME": str(b),  # its own Erlang cookie
        })
        return env

    def answers(self):
        return amqp_answers("127.0.0.1", self.port, timeout=1)

    def start(self, timeout=90):
        if self.server is None:
            raise RuntimeError("rabbitmq-server is not installed")
        log = open(self.base / "server.log", "ab")
        self.process = subprocess.Popen([self.server], env=self.env(), stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private RabbitMQ did not start:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def stop(self, timeout=30):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # the Erlang VM runs in the group: wait until the port is free again
        wait_for(lambda: not self.answers(), 20, what="broker port released")
        self.process = None

    def ctl(self, *args, timeout=60):
        """rabbitmqctl against this node (add_vhost, delete_vhost, ...)."""
        ctl = Path(self.server).with_name("rabbitmqctl")
        result = subprocess.run([str(ctl), "-n", self.node, *args], env=self.env(),
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr[-500:]}")
        return result.stdout

    def log_tail(self, lines=30):
        try:
            return "\n".join((self.base / "server.log").read_text(errors="replace")
                             .splitlines()[-lines:])
        except OSError:
            return ""


def component_of(cmdline):
    """The launcher's name of a child from its command line."""
    for arg in cmdline:
        if arg.startswith("services.") and arg.endswith(".service"):
            return arg.split(".")[1]
    for module in ("gateway", "web"):
        if f"-m\0{module}" in "\0".join(cmdline):
            return module
    return None


def children_of(pid):
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            if int(stat[1]) != pid or stat[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, IndexError, ValueError):
            continue
        name = component_of(cmdline)
        if name:
            found[replica_of(entry) or name] = int(entry.name)
    return found


def replica_of(proc_dir):
    """The launcher's name of a replica (students-2) from its environment."""
    try:
        environ = (proc_dir / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"LEERLINGBUS_REPLICA="):
            return item.split(b"=", 1)[1].decode() or None
    return None


class System:
    """The whole system under the launcher, on its own data dir and ports."""

    def __init__(self, base_dir, amqp_uri, rpc_timeout=3.0, extra_env=None, args=()):
        self.args = list(args)  # more launcher options (--replicas ...)
        self.base = Path(base_dir)
        self.data_dir = self.base / "var"
        self.port = free_port()
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.rpc_timeout = rpc_timeout
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("_DATABASE_URL") and k != "LEERLINGBUS_SMTP_HOST"}
        env.update({"AMQP_URI": amqp_uri, "LEERLINGBUS_HTTP_PORT": str(self.port),
                    "LEERLINGBUS_WEB_PORT": str(self.web_port),
                    "LEERLINGBUS_DATA_DIR": str(self.data_dir),
                    "LEERLINGBUS_HELPDESK_PASSWORD": HELPDESK_PASSWORD,
                    "LEERLINGBUS_RPC_TIMEOUT": str(rpc_timeout), "PYTHONUNBUFFERED": "1"})
        env.update(extra_env or {})
        self.env = env
        self.process = None
        self.log_path = self.base / "launcher.log"

    def launcher_argv(self):
        return [sys.executable, "-m", "deploy.run", "--no-rabbitmq", "--grace", "5",
                "--health-timeout", "120", *self.args]

    def start(self, timeout=150):
        self.base.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.launcher_argv(), cwd=ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        wait_for(lambda: self._banner_or_exit(), timeout, interval=0.5,
                 what=f"launcher ready\n{self.output()[-4000:]}")
        assert self.process.poll() is None, self.output()[-4000:]
        return self

    def _banner_or_exit(self):
        return self.process.poll() is not None or "Leerlingbus is running" in self.output()

    def output(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def pids(self):
        return children_of(self.process.pid)

    def kill(self, name, sig=signal.SIGKILL):
        """Kill one child of the launcher; returns its pid."""
        pid = self.pids()[name]
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, name, old_pid, timeout=30):
        return wait_for(lambda: (self.pids().get(name) not in (None, old_pid)
                                 and self.pids()[name]), timeout, interval=0.05,
                        what=f"{name} restarted")

    def health(self, timeout=10):
        try:
            r = requests.get(self.url + "/health", timeout=timeout)
        except requests.RequestException:
            return None
        return r

    def wait_healthy(self, timeout=60):
        started = time.monotonic()
        wait_for(lambda: (r := self.health()) is not None and r.status_code == 200, timeout,
                 interval=0.1, what="GET /health 200")
        return time.monotonic() - started

    def stop(self, timeout=30):
        if self.process is None or self.process.poll() is not None:
            return self.process and self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            for pid in self.pids().values():
                os.kill(pid, signal.SIGKILL)
            raise

    def client(self):
        return FaultClient(self.url)


class FaultClient:
    """The API as a helpdesk and a school's admin use it (requests, own deadlines)."""

    def __init__(self, base):
        self.base = base
        self.session = requests.Session()
        self.helpdesk = None

    def request(self, method, path, token=None, timeout=30, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base + API + path, headers=headers,
                                    timeout=timeout, **kw)

    def ok(self, method, path, token=None, status=200, **kw):
        r = self.request(method, path, token, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json()

    def login(self, institution, code, password):
        return self.ok("POST", "/auth/token", json={"institution": institution, "code": code,
                                                     "password": password})["access_token"]

    def as_helpdesk(self):
        if self.helpdesk is None:
            self.helpdesk = self.login("platform", "helpdesk", HELPDESK_PASSWORD)
        return self.helpdesk

    def make_school(self, brin="05KQ", name="Het Foutcollege"):
        """An institution with an admin; returns (institution, admin token)."""
        helpdesk = self.as_helpdesk()
        inst = self.ok("POST", "/institutions", helpdesk, 201,
                       json={"name": name, "brin": brin, "school_type": "vo"})
        self.ok("POST", "/users", helpdesk, 201, json={
            "institution_id": inst["id"], "code": "beheer", "first_name": "Anna",
            "last_name": "Beheer", "password": ADMIN_PASSWORD, "roles": ["admin"]})
        return inst, self.login(brin, "beheer", ADMIN_PASSWORD)

    def send_list(self, token, content, filename="leerlingen.xlsx"):
        return self.ok("POST", "/uploads", token, 202, data=LIST_FORM, timeout=120,
                       files={"file": (filename, content, "application/octet-stream")})

    def upload(self, upload_id, token=None):
        return self.ok("GET", f"/uploads/{upload_id}?errors_limit=5",
                       token or self.as_helpdesk())

    def wait_upload(self, upload_id, leave, timeout=600):
        """Poll until the list leaves the states `leave`; a 503 while a service
        restarts is waited out."""
        def settled():
            r = self.request("GET", f"/uploads/{upload_id}?errors_limit=5", self.as_helpdesk())
            if r.status_code == 503:
                return None
            assert r.status_code == 200, r.text
            body = r.json()
            return body if body["status"] not in leave else None
        return wait_for(settled, timeout, interval=0.5, what=f"upload {upload_id} settled")

    def approve(self, upload_id, **body):
        return self.ok("POST", f"/uploads/{upload_id}/approve", self.as_helpdesk(), json=body)

    def count(self, path, token):
        return self.ok("GET", path, token)["total"]


def big_list(count, path=None):
    """A valid generated list of `count` rows (tests/uploads/xlsxfactory)."""
    from tests.uploads.xlsxfactory import make_big_list
    return make_big_list(count, path=path)


def approved_list(client, content, brin, name="Het Lijstcollege"):
    """A school whose admin sends `content`; approved by the helpdesk once its
    verdict is in. Returns (institution, admin token, upload id)."""
    inst, admin = client.make_school(brin, name)
    upload = client.send_list(admin, content)
    verdict = client.wait_upload(upload["id"], ("validating",), timeout=300)
    assert verdict["status"] == "awaiting_review", verdict
    client.approve(upload["id"])
    return inst, admin, upload["id"]


def kill_when_loaded(system, client, upload_id, service, at_least):
    """SIGKILL `service` once the list reports `at_least` rows loaded (or is done);
    returns (killed pid or None when the load finished first, loaded at the kill)."""
    def reached():
        body = client.upload(upload_id)
        if body["status"] != "loading" or (body.get("loaded") or 0) >= at_least:
            return body
        return None
    body = wait_for(reached, 600, interval=0.05, what=f"{at_least} rows loaded")
    if body["status"] != "loading":
        return None, body.get("loaded")
    return system.kill(service), body.get("loaded")


class LoadNotExact(AssertionError):
    """A list whose rows did not all arrive exactly once (resumable writes)."""


def assert_loaded_exactly_once(client, upload_id, admin, count):
    """The list ends `loaded` with every row once: records, accounts, counts.
    Raises LoadNotExact otherwise."""
    done = client.wait_upload(upload_id, ("awaiting_review", "loading"), timeout=900)
    found = {"status": done["status"], "loaded": done["loaded"], "skipped": done["skipped"],
             "students": client.count("/students?page_size=1", admin),
             "student accounts": client.count("/users?filter=students&page_size=1", admin)}
    expected = {"status": "loaded", "loaded": count, "skipped": 0, "students": count,
                "student accounts": count}
    if found != expected:
        raise LoadNotExact(f"expected {expected}, found {found}; load errors: "
                           f"{done.get('load_errors', [])[:3]}")


# --------------------------------------------------------------------------- events

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


# --------------------------------------------------------------------------- PostgreSQL

PG_ADMIN_URL = os.environ.get("LEERLINGBUS_TEST_POSTGRES_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def postgres_answers(admin_url=PG_ADMIN_URL):
    try:
        engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.SQLAlchemyError:
        return False


class PostgresDatabases:
    """A fresh, empty PostgreSQL database per service (the launcher migrates
    them); env() holds their <SERVICE>_DATABASE_URL, drop() removes them."""

    def __init__(self, services, admin_url=PG_ADMIN_URL, prefix="lbf"):
        self.admin_url = admin_url
        tag = uuid.uuid4().hex[:8]
        self.names = {s: f"{prefix}_{s}_{tag}" for s in services}
        self._admin("CREATE DATABASE", self.names.values())

    def _admin(self, verb, names, tail=""):
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'{verb} "{name}"{tail}'))
        engine.dispose()

    def url(self, service):
        return self.admin_url.rsplit("/", 1)[0] + "/" + self.names[service]

    def env(self):
        return {f"{s.upper()}_DATABASE_URL": self.url(s) for s in self.names}

    def drop(self):
        self._admin("DROP DATABASE IF EXISTS", self.names.values(), " WITH (FORCE)")


def consumers(broker_uri, queue_name):
    """How many consumers a queue has (a service's replicas on its RPC queue)."""
    with Connection(broker_uri) as conn:
        return conn.default_channel.queue_declare(queue=queue_name, passive=True).consumer_count


def probe_all(broker_uri, services):
    """A durable queue of our own bound to every event of `services`."""
    queue_name = f"faults-all-{uuid.uuid4().hex[:8]}"
    with Connection(broker_uri) as conn:
        channel = conn.channel()
        queue = Queue(queue_name, durable=True, auto_delete=False)
        queue(channel).declare()
        for service in services:
            exchange = Exchange(f"{service}.events", type="topic", durable=True,
                                auto_delete=False)
            exchange(channel).declare()
            queue(channel).bind_to(exchange=exchange, routing_key="#")
    return Queue(queue_name, durable=True, auto_delete=False, no_declare=True)
