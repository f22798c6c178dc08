"""services/common/brokerloss.py: a connection lost while a worker finishes does not
stop the service (nameko kills the container on any error there)."""
import eventlet
from kombu.message import Message
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher

import services.common.rpc  # noqa: F401  (installs the guards, as every service does)


class Listener:
    name = "listener"
    seen: list = []

    @event_handler("src", "ping")
    def on_ping(self, payload):
        Listener.seen.append(payload)


def test_an_ack_on_a_dropped_connection_does_not_stop_the_service(container_factory,
                                                                   rabbit_config, monkeypatch):
    Listener.seen = []
    container = container_factory(Listener, rabbit_config)
    container.start()
    real_ack = Message.ack
    dropped = []

    def ack(self, *args, **kwargs):
        if not dropped:
            dropped.append(self.delivery_tag)
            raise ConnectionResetError(104, "Connection reset by peer")
        return real_ack(self, *args, **kwargs)

    monkeypatch.setattr(Message, "ack", ack)
    dispatch = event_dispatcher(rabbit_config)
    dispatch("src", "ping", {"n": 1})
    with eventlet.Timeout(10):
        while not dropped:
            eventlet.sleep(0.05)
    dispatch("src", "ping", {"n": 2})
    with eventlet.Timeout(10):
        while {"n": 2} not in Listener.seen:
            eventlet.sleep(0.05)
    assert not container._died.ready()
