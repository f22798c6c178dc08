"""services/common/channels.py: publishing on kept channels (the gateway's RPC
requests, every service's RPC replies), and services/common/rpc.py's signature
check, on a real broker."""
import json
import socket

import amqp
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
        message = queue(conn.default_channel).get(no_ack=True)
        assert message is not None, "nothing was published to the probe queue"
        return message

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


def test_a_kept_connection_that_died_is_replaced(rabbit_config, probe):
    pool = ChannelPool(rabbit_config["AMQP_URI"])
    pool.publish(message("one"), "nameko-rpc", "probe.one")
    [(conn, _channel, _returned)] = pool._idle
    conn.connection.transport.sock.shutdown(socket.SHUT_RDWR)  # as a broker restart leaves it
    pool.publish(message("two"), "nameko-rpc", "probe.two")
    assert [json.loads(probe().body)["v"] for _ in range(2)] == ["one", "two"]
    assert pool._idle and pool._idle[0][0] is not conn
    pool.close()


def test_gateway_requests_are_transient_with_the_deadline_as_ttl(rabbit_config, probe):
    bus = BusClient(rabbit_config["AMQP_URI"]).start()
    try:
        with pytest.raises(ServiceUnavailable) as info:
            bus.call("probe", "method", 7, timeout=0.3, flag=True)
        assert info.value.reason == "timeout"
        with pytest.raises(ServiceUnavailable) as info:
            bus.call("absent", "method", timeout=2)
        assert info.value.reason == "not_running"
    finally:
        bus.stop()
    request = probe()
    assert json.loads(request.body) == {"args": [7], "kwargs": {"flag": True}}
    assert request.properties["delivery_mode"] == 1
    assert request.properties["expiration"] == "300"
    assert request.properties["reply_to"] == bus.routing_key


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
