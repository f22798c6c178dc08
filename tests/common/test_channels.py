"""services/common/channels.py: publishing on kept channels (the gateway's RPC
requests, every service's RPC replies), and services/common/rpc.py's signature
check, on a real broker."""
import json
import socket
import time

import amqp
import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from nameko.exceptions import IncorrectSignature
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy

import services.common.rpc  # noqa: F401  (installs the reply publisher, as every service does)
from gateway.bus import BusClient, ServiceUnavailable
from services.common.channels import ChannelPool, Returned

RPC = Exchange("nameko-rpc", type="topic", durable=True)


@pytest.fixture
def probe(rabbit_config):
    """A queue bound to nameko-rpc with key probe.*; get() takes one message."""
    conn = Connection(rabbit_config["AMQP_URI"])
    queue = Queue("probe-queue", exchange=RPC, routing_key="probe.*", auto_delete=True)
    queue(conn.default_channel).declare()

    def get():
        for _ in range(100):
            message = queue(conn.default_channel).get(no_ack=True)
            if message is not None:
                return message
            eventlet.sleep(0.02)
        raise AssertionError("nothing was published to the probe queue")

    yield get
    conn.release()


def message(text="x"):
    return amqp.Message(json.dumps({"v": text}), content_type="application/json")


def test_a_returned_message_is_refused_and_the_channel_stays_in_step(rabbit_config, probe):
    pool = ChannelPool(rabbit_config["AMQP_URI"])
    with pytest.raises(Returned):
        pool.publish(message(), "nameko-rpc", "nobody.listens")
    assert len(pool._idle) == 1  # kept: its acknowledgement was read
    pool.publish(message("next"), "nameko-rpc", "probe.next")
    assert json.loads(probe().body) == {"v": "next"}
    with pytest.raises(Returned):  # the next acknowledgement is this message's own
        pool.publish(message(), "nameko-rpc", "nobody.listens")
    pool.close()


def test_kept_connections_that_died_are_replaced(rabbit_config, probe):
    pool = ChannelPool(rabbit_config["AMQP_URI"])
    pool.publish(message("one"), "nameko-rpc", "probe.one")
    pool._idle.extend(pool._open() for _ in range(4))  # more than PUBLISH_RETRY's attempts
    dead = [conn for conn, _channel, _returned in pool._idle]
    for conn in dead:  # as a broker restart leaves them
        conn.connection.transport.sock.shutdown(socket.SHUT_RDWR)
    pool.publish(message("two"), "nameko-rpc", "probe.two")
    assert [json.loads(probe().body)["v"] for _ in range(2)] == ["one", "two"]
    assert len(pool._idle) == 1 and pool._idle[0][0] not in dead
    pool.close()


def test_a_publish_only_connection_the_broker_closed_is_not_used_again(rabbit_config, probe):
    """Replies go out without confirms: a channel the broker closed (here by a
    publish to an exchange that does not exist) would drop every later reply
    unheard. The pool sees the broker's close waiting and publishes anew."""
    pool = ChannelPool(rabbit_config["AMQP_URI"], confirm=False)
    pool.publish(message("one"), "nameko-rpc", "probe.one", mandatory=False)
    pool.publish(message(), "no-such-exchange", "x", mandatory=False)
    eventlet.sleep(0.3)  # the broker's channel.close arrives
    pool.publish(message("two"), "nameko-rpc", "probe.two", mandatory=False)
    assert [json.loads(probe().body)["v"] for _ in range(2)] == ["one", "two"]
    assert len(pool._idle) == 1
    pool.close()


def test_gateway_requests_are_transient_with_the_deadline_as_ttl(rabbit_config, probe):
    bus = BusClient(rabbit_config["AMQP_URI"]).start()
    try:
        call = eventlet.spawn(bus.call, "probe", "method", 7, timeout=2, flag=True)
        request = probe()
        assert json.loads(request.body) == {"args": [7], "kwargs": {"flag": True}}
        assert request.properties["delivery_mode"] == 1
        assert request.properties["expiration"] == "2000"
        assert request.properties["reply_to"] == bus.routing_key
        with Connection(rabbit_config["AMQP_URI"]) as conn:  # answer it, as a service does
            conn.Producer().publish({"result": "ok", "error": None}, exchange=RPC,
                                    routing_key=request.properties["reply_to"],
                                    correlation_id=request.properties["correlation_id"])
        assert call.wait() == "ok"
        with pytest.raises(ServiceUnavailable) as info:
            bus.call("absent", "method", timeout=2)
        assert info.value.reason == "not_running"
    finally:
        bus.stop()


def answer(rabbit_config, request, result):
    with Connection(rabbit_config["AMQP_URI"]) as conn:  # as a service does
        conn.Producer().publish({"result": result, "error": None}, exchange=RPC,
                                routing_key=request.properties["reply_to"],
                                correlation_id=request.properties["correlation_id"])


def test_a_call_waiting_when_the_gateway_loses_its_connection_is_a_503_at_once(
        rabbit_config, probe):
    """The reply queue goes with the connection: the call waiting for its reply
    is a 503 at once, not at its deadline; the next call goes out on the new
    connection."""
    bus = BusClient(rabbit_config["AMQP_URI"]).start()
    try:
        call = eventlet.spawn(bus.call, "probe", "method", timeout=8)
        probe()  # the request went out
        started = time.monotonic()
        bus._link[0].connection.transport.sock.shutdown(socket.SHUT_RDWR)
        with pytest.raises(ServiceUnavailable) as info:
            call.wait()
        assert info.value.reason == "broker" and time.monotonic() - started < 2
        call = eventlet.spawn(bus.call, "probe", "again", timeout=8)
        answer(rabbit_config, probe(), "back")
        assert call.wait() == "back"
    finally:
        bus.stop()


class Echo:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


def test_service_replies_go_out_transient_on_kept_channels(container_factory, rabbit_config,
                                                            monkeypatch):
    sent = []
    real = ChannelPool.publish

    def publish(self, msg, exchange, routing_key, mandatory=True):
        sent.append(msg.properties["delivery_mode"])
        return real(self, msg, exchange, routing_key, mandatory)

    monkeypatch.setattr(ChannelPool, "publish", publish)
    container_factory(Echo, rabbit_config).start()
    with ServiceRpcProxy("echo", rabbit_config) as echo:
        assert [echo.echo({"n": n}) for n in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert sent == [1, 1, 1]


def test_a_call_that_does_not_fit_the_signature_is_refused(container_factory, rabbit_config,
                                                           monkeypatch):
    monkeypatch.setattr("inspect.getcallargs", lambda *a, **k: pytest.fail("read per call"))
    container_factory(Echo, rabbit_config).start()
    with ServiceRpcProxy("echo", rabbit_config) as echo:
        assert echo.echo(value=5) == 5
        with pytest.raises(IncorrectSignature):
            echo.echo(1, 2)
        with pytest.raises(IncorrectSignature):
            echo.echo(other=1)
