"""Make sure a RabbitMQ broker answers at AMQP_URI (used by `make run` and `make test`).

    python -m deploy.rabbitmq                 # broker only
    python -m deploy.rabbitmq --management    # and the management API (nameko's test fixtures)

Order of attempts, stopping at the first that works:

1. the broker at AMQP_URI already answers: nothing to do;
2. AMQP_URI points elsewhere than this machine: stop, we never touch a remote broker;
3. `rabbitmq-server` is installed: `rabbitmq-server -detached`, then wait until it answers;
4. running as root with apt-get: `apt-get update && apt-get install -y rabbitmq-server`, then 3;
5. otherwise exit non-zero with instructions.

With --management the `rabbitmq_management` plugin is enabled as well
(`rabbitmq-plugins enable rabbitmq_management`) and we wait until its HTTP API answers.

Standard library only, so it runs before the virtualenv has its packages.
"""
import argparse
import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MANAGEMENT_PORT = 15672
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}
# rabbitmq's scripts live in sbin, which a non-root PATH often lacks.
EXTRA_PATH = ("/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/lib/rabbitmq/bin")

INSTALL_HINT = """\
RabbitMQ is needed and could not be started here.
  Debian/Ubuntu:  sudo apt-get install -y rabbitmq-server && sudo rabbitmq-server -detached
  macOS:          brew install rabbitmq && brew services start rabbitmq
  Docker:         docker run -d -p 5672:5672 -p 15672:15672 rabbitmq:3-management
  or point AMQP_URI at a broker that runs (amqp://user:password@host:5672/vhost)."""


class BrokerError(SystemExit):
    """Raised (and, from the CLI, printed) when no broker can be had."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    user: str
    password: str
    vhost: str

    @property
    def is_local(self) -> bool:
        return self.host.lower() in LOCAL_HOSTS

    @property
    def display(self) -> str:
        return f"{self.host}:{self.port}"


def parse_amqp_uri(uri: str) -> Broker:
    parts = urlparse(uri)
    if parts.scheme not in ("amqp", "pyamqp", "amqps", "librabbitmq"):
        raise ValueError(f"AMQP_URI must start with amqp://, got {uri!r}")
    default_port = 5671 if parts.scheme == "amqps" else 5672
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return Broker(
        host=parts.hostname or "localhost",
        port=parts.port or default_port,
        user=unquote(parts.username) if parts.username else "guest",
        password=unquote(parts.password) if parts.password else "guest",
        vhost=vhost,
    )


def resolve_amqp_uri(explicit=None, environ=None) -> str:
    environ = os.environ if environ is None else environ
    return explicit or environ.get("AMQP_URI") or DEFAULT_AMQP_URI


def amqp_answers(host, port, timeout=2.0) -> bool:
    """True when something at host:port speaks AMQP 0-9-1.

    Sends the protocol header and expects the broker's Connection.Start method
    frame (frame type 1) rather than only a TCP accept: a starting RabbitMQ may
    accept connections before it can serve them.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            head = b""
            while len(head) < 7:
                chunk = sock.recv(7 - len(head))
                if not chunk:
                    return False
                head += chunk
            return head[0] == 1 and head[1:3] == b"\x00\x00"
    except OSError:
        return False


def management_url(broker: Broker, port=DEFAULT_MANAGEMENT_PORT) -> str:
    host = "127.0.0.1" if broker.host in ("localhost", "") else broker.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def management_answers(broker: Broker, port=DEFAULT_MANAGEMENT_PORT, timeout=3.0) -> bool:
    """True when the management API answers /api/overview for the broker's user."""
    request = urllib.request.Request(management_url(broker, port) + "/api/overview")
    token = base64.b64encode(f"{broker.user}:{broker.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def which(command, environ=None):
    environ = os.environ if environ is None else environ
    path = os.pathsep.join([environ.get("PATH", os.defpath), *EXTRA_PATH])
    return shutil.which(command, path=path)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def wait_until(check, timeout, interval=1.0, clock=time.monotonic, sleep=time.sleep) -> bool:
    deadline = clock() + timeout
    while True:
        if check():
            return True
        if clock() >= deadline:
            return False
        sleep(interval)


def _say(message):
    print(f"[rabbitmq] {message}", flush=True)


def _run(argv, env=None):
    _say("$ " + " ".join(argv))
    return subprocess.run(argv, env=env, check=False).returncode


class Ensurer:
    """The decisions of ensure(), with every effect injectable for tests."""

    def __init__(self, uri, *, timeout=90.0, run=_run, which_=which, root=is_root,
                 answers=amqp_answers, mgmt_answers=management_answers,
                 wait=wait_until, say=_say):
        self.uri = uri
        self.broker = parse_amqp_uri(uri)
        self.timeout = timeout
        self.run = run
        self.which = which_
        self.root = root
        self.answers = answers
        self.mgmt_answers = mgmt_answers
        self.wait = wait
        self.say = say

    def broker_up(self):
        return self.answers(self.broker.host, self.broker.port)

    def ensure(self, management=False):
        b = self.broker
        if self.broker_up():
            self.say(f"broker answers at {b.display}")
        elif not b.is_local:
            raise BrokerError(
                f"RabbitMQ at {b.display} (AMQP_URI) does not answer. It is not on this "
                f"machine, so it is not started from here: start it there, or set "
                f"AMQP_URI to a broker that runs.")
        else:
            self.start_local()
        if management:
            self.ensure_management()
        return b

    def start_local(self):
        server = self.which("rabbitmq-server")
        if server is None:
            self.install()
            server = self.which("rabbitmq-server")
            if server is None:
                raise BrokerError("rabbitmq-server was installed but cannot be found.\n"
                                  + INSTALL_HINT)
            # Debian's package may have started it already.
            if self.wait(self.broker_up, 10):
                self.say(f"broker answers at {self.broker.display}")
                return
        self.say(f"no broker at {self.broker.display}; starting the local RabbitMQ")
        code = self.run([server, "-detached"])
        if code != 0:
            self.say(f"rabbitmq-server -detached exited with {code}; waiting anyway")
        if not self.wait(self.broker_up, self.timeout):
            raise BrokerError(
                f"Started rabbitmq-server but nothing answers at {self.broker.display} "
                f"after {self.timeout:.0f} s. See /var/log/rabbitmq/ for why.\n" + INSTALL_HINT)
        self.say(f"broker answers at {self.broker.display}")

    def install(self):
        apt = self.which("apt-get")
        if not (self.root() and apt):
            why = "not running as root" if apt else "no apt-get on this machine"
            raise BrokerError(f"rabbitmq-server is not installed ({why}).\n" + INSTALL_HINT)
        self.say("rabbitmq-server is not installed; installing it with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if self.run([apt, "update"], env) != 0:
            raise BrokerError("apt-get update failed.\n" + INSTALL_HINT)
        if self.run([apt, "install", "-y", "rabbitmq-server"], env) != 0:
            raise BrokerError("apt-get install rabbitmq-server failed.\n" + INSTALL_HINT)

    def ensure_management(self):
        b = self.broker
        if self.mgmt_answers(b):
            self.say(f"management API answers at {management_url(b)}")
            return
        if not b.is_local:
            raise BrokerError(
                f"The RabbitMQ management API at {management_url(b)} does not answer; "
                f"enable the rabbitmq_management plugin on that broker.")
        plugins = self.which("rabbitmq-plugins")
        if plugins is None:
            raise BrokerError("rabbitmq-plugins not found; enable the management plugin by "
                              "hand: rabbitmq-plugins enable rabbitmq_management")
        code = self.run([plugins, "enable", "rabbitmq_management"])
        if code != 0:
            hint = "" if self.root() else " (try again as root)"
            raise BrokerError(f"rabbitmq-plugins enable rabbitmq_management failed{hint}.")
        if not self.wait(lambda: self.mgmt_answers(b), self.timeout):
            raise BrokerError(f"The management API at {management_url(b)} does not answer "
                              f"after {self.timeout:.0f} s.")
        self.say(f"management API answers at {management_url(b)}")


def ensure(uri=None, management=False, timeout=90.0):
    """Make the broker (and optionally its management API) answer, or raise BrokerError."""
    return Ensurer(resolve_amqp_uri(uri), timeout=timeout).ensure(management=management)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", help="broker URI (default: $AMQP_URI or %s)" % DEFAULT_AMQP_URI)
    parser.add_argument("--management", action="store_true",
                        help="also enable rabbitmq_management and wait for its HTTP API")
    parser.add_argument("--timeout", type=float, default=90.0,
                        help="seconds to wait for a started broker (default 90)")
    args = parser.parse_args(argv)
    try:
        ensure(args.uri, management=args.management, timeout=args.timeout)
    except BrokerError as exc:
        print(f"[rabbitmq] {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
