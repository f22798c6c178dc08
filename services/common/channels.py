"""Publishing on kept AMQP channels.

nameko's Publisher takes a producer from kombu's pool for every message
(a connection object, pool lookup, producer revival, retry wrapper): on a
small RPC that costs more than the publish itself. ChannelPool keeps
confirm-mode channels instead, one per publish in flight, each on a connection
of its own (a py-amqp connection serves one green thread at a time); a
publish is the message and the broker's acknowledgement.

Used by the gateway's RPC client (gateway/bus.py) and, through `install()`
(services/common/rpc.py), for every service's RPC replies. Replies are
transient: a reply queue dies with its caller's connection, so a reply is
worthless after a broker restart and need not be written to disk; nor is a
broker acknowledgement waited for (the worker is done one round trip sooner).
"""

import contextlib
import socket

import amqp
import eventlet
from amqp.exceptions import AMQPError
from kombu import Connection
from kombu.exceptions import KombuError
from kombu.serialization import dumps
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import NON_PERSISTENT

from .outbox import PUBLISH_RETRY

BROKER_ERRORS = (OSError, KombuError, AMQPError)


class Returned(Exception):
    """The broker returned a mandatory message: no queue is bound to its key."""


class ChannelPool:
    """A kept connection that fails (a broker restart) is dropped with the
    other idle ones and the publish goes out on a new one at once; new
    connections that fail are retried by PUBLISH_RETRY (the outbox's policy):
    max_retries more attempts, waiting from interval_start, growing by
    interval_step up to interval_max."""

    KEEP = 32  # idle connections kept

    def __init__(self, amqp_uri, confirm=True):
        self.amqp_uri = amqp_uri
        # confirm=False: fire and forget (RPC replies): no broker acknowledgement
        # to wait for, nor a returned message to hear of
        self.confirm = confirm
        self._idle = []

    def _open(self):
        conn = Connection(self.amqp_uri, connect_timeout=2)
        conn.connect()
        # py-amqp polls the socket before every publish (a trip through the
        # eventlet hub) when the broker may block the connection; the
        # acknowledgement wait reads such a notice anyway.
        props = conn.connection.client_properties
        props["capabilities"] = {**props.get("capabilities", {}), "connection.blocked": False}
        channel = conn.connection.channel()
        if self.confirm:
            channel.confirm_select()
        returned = []
        channel.events["basic_return"].add(lambda *args: returned.append(True))
        return conn, channel, returned

    def publish(self, message, exchange, routing_key, mandatory=True):
        """Publish `message` (an amqp.Message) and wait for the broker's
        acknowledgement; Returned when it is mandatory and no queue takes it,
        one of BROKER_ERRORS when the broker cannot be reached."""
        policy = PUBLISH_RETRY
        failures = 0
        while True:
            kept = bool(self._idle)
            item = None
            try:
                item = self._idle.pop() if kept else self._open()
                _conn, channel, returned = item
                returned.clear()
                if self.confirm:
                    channel.basic_publish_confirm(
                        message, exchange=exchange, routing_key=routing_key, mandatory=mandatory
                    )
                else:
                    if kept:
                        _check_silent(_conn)
                    channel.basic_publish(message, exchange=exchange, routing_key=routing_key)
            except BROKER_ERRORS:
                if item is not None:
                    self._close(item)
                if kept:  # likely a broker restart: the other kept ones died with it
                    self.close()
                    continue
                failures += 1
                if failures > policy["max_retries"]:
                    raise
                wait = policy["interval_start"] + policy["interval_step"] * (failures - 1)
                eventlet.sleep(min(wait, policy["interval_max"]))
                continue
            except BaseException:  # a deadline: the channel is mid-call, not reusable
                if item is not None:
                    self._close(item)
                raise
            self._release(item)
            if returned:
                raise Returned(routing_key)
            return

    def _release(self, item):
        if len(self._idle) < self.KEEP:
            self._idle.append(item)
        else:
            self._close(item)

    @staticmethod
    def _close(item):
        with contextlib.suppress(Exception):
            item[0].release()

    def close(self):
        while self._idle:
            self._close(self._idle.pop())


def _check_silent(conn):
    """A connection that publishes without confirms hears nothing from a broker
    that is content (no heartbeats are agreed on it): anything waiting to be
    read is the broker closing the channel or the connection, after which it
    would drop what we publish. Such a connection is not used again."""
    sock = conn.connection.transport.sock
    raw = getattr(sock, "fd", sock)  # under eventlet, the plain socket beneath
    try:
        waiting = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return
    raise ConnectionError(f"broker spoke on a publish-only connection ({waiting!r})")


_POOLS: dict[tuple[str, bool], ChannelPool] = {}


def pool_for(amqp_uri, confirm=True):
    """The process's pool for a broker URI (vhost included)."""
    pool = _POOLS.get((amqp_uri, confirm))
    if pool is None:
        pool = _POOLS[amqp_uri, confirm] = ChannelPool(amqp_uri, confirm)
    return pool


class ReplyPublisher(Publisher):
    """nameko's reply publisher (Responder.publisher_cls) on kept channels,
    replies transient; with TLS or a login method nameko's own way."""

    def publish(self, payload, **kwargs):
        if self.ssl or self.login_method:
            return super().publish(payload, **kwargs)
        content_type, encoding, body = dumps(payload, kwargs.get("serializer", "json"))
        message = amqp.Message(
            body,
            content_type=content_type,
            content_encoding=encoding,
            correlation_id=kwargs.get("correlation_id"),
            delivery_mode=NON_PERSISTENT,
        )
        exchange = kwargs["exchange"]
        # Without publisher confirms: a reply's worth ends with its caller's
        # wait, and the caller's reply queue lives only as long as its broker
        # connection. A reply lost with a broker restart found no queue anyway;
        # its caller answers 503 at its deadline, as it would have then.
        pool_for(self.amqp_uri, confirm=False).publish(
            message, getattr(exchange, "name", exchange), kwargs["routing_key"], mandatory=False
        )


def install():
    nameko_rpc.Responder.publisher_cls = ReplyPublisher
