"""deploy/rabbitmq.py: URI handling, the AMQP probe, and the decisions of ensure()."""
import socket
import threading

import pytest

from deploy import rabbitmq as rmq


# --------------------------------------------------------------------------- parsing

def test_parse_defaults_and_credentials():
    b = rmq.parse_amqp_uri("amqp://guest:guest@127.0.0.1:5672/")
    assert (b.host, b.port, b.user, b.password, b.vhost) == (
        "127.0.0.1", 5672, "guest", "guest", "/")
    assert b.is_local

    b = rmq.parse_amqp_uri("amqp://lb:p%40ss@rabbitmq:5673/prod")
    assert (b.host, b.port, b.user, b.password, b.vhost) == (
        "rabbitmq", 5673, "lb", "p@ss", "prod")
    assert not b.is_local

    assert rmq.parse_amqp_uri("amqp://localhost").port == 5672
    assert rmq.parse_amqp_uri("amqp://localhost").is_local
    assert rmq.parse_amqp_uri("pyamqp://u:p@[::1]:5672//").is_local
    assert rmq.parse_amqp_uri("amqps://u:p@broker.example").port == 5671


def test_parse_rejects_other_schemes():
    with pytest.raises(ValueError):
        rmq.parse_amqp_uri("http://127.0.0.1:5672/")


def test_resolve_uri_order():
    assert rmq.resolve_amqp_uri("amqp://a/", {"AMQP_URI": "amqp://b/"}) == "amqp://a/"
    assert rmq.resolve_amqp_uri(None, {"AMQP_URI": "amqp://b/"}) == "amqp://b/"
    assert rmq.resolve_amqp_uri(None, {"AMQP_URI": ""}) == rmq.DEFAULT_AMQP_URI
    assert rmq.resolve_amqp_uri(None, {}) == rmq.DEFAULT_AMQP_URI


def test_management_url_for_local_and_remote():
    assert rmq.management_url(rmq.parse_amqp_uri("amqp://localhost/")) == \
        "http://127.0.0.1:15672"
    assert rmq.management_url(rmq.parse_amqp_uri("amqp://rabbit/")) == "http://rabbit:15672"


# --------------------------------------------------------------------------- probe

def _server(reply):
    """A one-shot TCP server on loopback that answers the AMQP header with `reply`."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)

    def serve():
        conn, _ = sock.accept()
        with conn:
            conn.recv(8)
            if reply:
                conn.sendall(reply)
        sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


def test_probe_accepts_a_connection_start_frame():
    port = _server(b"\x01\x00\x00\x00\x00\x01\xf4" + b"\x00" * 20)
    assert rmq.amqp_answers("127.0.0.1", port, timeout=2)


def test_probe_rejects_something_else():
    port = _server(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    assert not rmq.amqp_answers("127.0.0.1", port, timeout=2)
    port = _server(b"")
    assert not rmq.amqp_answers("127.0.0.1", port, timeout=2)


def test_probe_of_a_closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert not rmq.amqp_answers("127.0.0.1", port, timeout=1)


def test_probe_of_the_real_broker():
    if not rmq.amqp_answers("127.0.0.1", 5672):
        pytest.skip("no RabbitMQ at 127.0.0.1:5672")
    assert rmq.ensure(management=False, timeout=5).port == 5672


# --------------------------------------------------------------------------- decisions

class World:
    """A fake machine: which commands exist, what runs, and whether the broker answers."""

    def __init__(self, up=False, installed=True, apt=True, root=True, mgmt_up=False,
                 starts=True, uri="amqp://guest:guest@127.0.0.1:5672/"):
        self.up = up
        self.mgmt_up = mgmt_up
        self.installed = installed
        self.apt = apt
        self.is_root = root
        self.starts = starts
        self.ran = []
        self.said = []
        self.uri = uri

    def run(self, argv, env=None):
        self.ran.append([a.rsplit("/", 1)[-1] for a in argv])
        name = argv[0].rsplit("/", 1)[-1]
        if name == "rabbitmq-server" and self.starts:
            self.up = True
        if name == "apt-get" and argv[1:3] == ["install", "-y"]:
            self.installed = True
        if name == "rabbitmq-plugins":
            self.mgmt_up = True
        return 0

    def which(self, command):
        if command == "apt-get":
            return "/usr/bin/apt-get" if self.apt else None
        if command.startswith("rabbitmq-"):
            return f"/usr/sbin/{command}" if self.installed else None
        return None

    def ensurer(self, timeout=3):
        return rmq.Ensurer(
            self.uri, timeout=timeout, run=self.run, which_=self.which,
            root=lambda: self.is_root, answers=lambda host, port: self.up,
            mgmt_answers=lambda broker: self.mgmt_up,
            wait=lambda check, timeout: check(), say=self.said.append)


def test_nothing_to_do_when_the_broker_answers():
    world = World(up=True)
    world.ensurer().ensure()
    assert world.ran == []


def test_starts_an_installed_broker():
    world = World(up=False, installed=True)
    world.ensurer().ensure()
    assert world.ran == [["rabbitmq-server", "-detached"]]


def test_installs_with_apt_as_root_then_starts():
    world = World(up=False, installed=False, apt=True, root=True)
    world.ensurer().ensure()
    assert world.ran == [["apt-get", "update"], ["apt-get", "install", "-y", "rabbitmq-server"],
                         ["rabbitmq-server", "-detached"]]


def test_without_root_it_explains_how_to_install():
    world = World(up=False, installed=False, apt=True, root=False)
    with pytest.raises(rmq.BrokerError) as exc:
        world.ensurer().ensure()
    assert world.ran == []
    assert "not running as root" in str(exc.value)
    assert "apt-get install -y rabbitmq-server" in str(exc.value)


def test_without_apt_it_explains_how_to_install():
    world = World(up=False, installed=False, apt=False, root=True)
    with pytest.raises(rmq.BrokerError) as exc:
        world.ensurer().ensure()
    assert "no apt-get" in str(exc.value)


def test_a_remote_broker_is_never_touched():
    world = World(up=False, installed=True, uri="amqp://u:p@rabbitmq.internal:5672/")
    with pytest.raises(rmq.BrokerError) as exc:
        world.ensurer().ensure(management=True)
    assert world.ran == []
    assert "rabbitmq.internal:5672" in str(exc.value)


def test_a_broker_that_never_answers_is_reported():
    world = World(up=False, installed=True, starts=False)
    with pytest.raises(rmq.BrokerError) as exc:
        world.ensurer().ensure()
    assert "nothing answers" in str(exc.value)


def test_management_is_enabled_when_asked():
    world = World(up=True, mgmt_up=False)
    world.ensurer().ensure(management=True)
    assert world.ran == [["rabbitmq-plugins", "enable", "rabbitmq_management"]]


def test_management_left_alone_when_it_answers():
    world = World(up=True, mgmt_up=True)
    world.ensurer().ensure(management=True)
    assert world.ran == []


def test_cli_exit_code_and_message(capsys, monkeypatch):
    def refuse(uri=None, management=False, timeout=90.0):
        raise rmq.BrokerError("no broker here")
    monkeypatch.setattr(rmq, "ensure", refuse)
    assert rmq.main(["--management"]) == 1
    assert "no broker here" in capsys.readouterr().err


def test_wait_until_times_out():
    ticks = iter(range(100))
    assert not rmq.wait_until(lambda: False, 3, clock=lambda: next(ticks), sleep=lambda s: None)
    assert rmq.wait_until(lambda: True, 0)
