"""RPC from the gateway to the services, with a deadline on every call.

nameko's in-service RpcProxy waits forever and its standalone proxy cannot be
shared between green threads, so the gateway speaks nameko's RPC protocol
itself: one broker connection per gateway process, on which one green thread
consumes the process's reply queue and hands each reply to the waiting request
by correlation id, and the requests go out on a second channel of the same
connection. Every request message carries a per-message TTL equal to the
caller's remaining deadline, so a request the gateway has given up on is
dropped by the broker instead of being executed later by a service that comes
back.

A call costs one publish (no broker round trip before the reply: the reply is
the acknowledgement). A request the broker returns (mandatory: no service
consumes it) comes back through the same reader and is a 503 at once. One
writer at a time on the connection; a write cut off by its deadline leaves the
connection in an unknown state, so it is dropped and made anew. Requests are
transient and the reply queue is not durable: an RPC outlives no broker
restart, so nothing of it is written to disk; calls waiting when the
connection is lost are a 503 at once.
"""

import contextlib
import logging
import socket
import time
import uuid

import amqp
import eventlet
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection
from kombu.serialization import loads
from kombu.utils import json as kombu_json
from nameko.constants import NON_PERSISTENT
from nameko.exceptions import deserialize

from services.common import quietlogs
from services.common.channels import BROKER_ERRORS

quietlogs.install()  # a call to a service not (yet) running is a 503, not a channel warning

log = logging.getLogger(__name__)

RPC_EXCHANGE_NAME = "nameko-rpc"
REPLY_QUEUE_EXPIRES_MS = 300000
_RETURNED = object()  # the broker returned the request: nobody consumes it
_LOST = object()  # the connection went before the reply came


class ServiceUnavailable(Exception):
    def __init__(self, service, reason):
        super().__init__(service, reason)
        self.service = service
        self.reason = reason


class BusClient:
    def __init__(self, amqp_uri, default_timeout=8.0):
        self.amqp_uri = amqp_uri
        self.default_timeout = default_timeout
        self.routing_key = str(uuid.uuid4())
        self.queue_name = f"rpc.reply-gateway-{self.routing_key}"
        self._pending = {}
        self._ready = Event()  # connected once (start() waits for it)
        self._link = None  # (kombu Connection, publishing channel) while connected
        self._write = Semaphore(1)
        self._running = False
        self._thread = None

    # -- lifecycle -----------------------------------------------------
    def start(self, wait=5.0):
        self._running = True
        self._thread = eventlet.spawn(self._consume_forever)
        with eventlet.Timeout(wait, False):
            self._ready.wait()
        return self

    def stop(self):
        self._running = False
        if self._thread is not None:
            self._thread.kill()
            self._thread = None
        link, self._link = self._link, None
        if link is not None:
            with contextlib.suppress(Exception):
                link[0].release()

    def _connect(self):
        conn = Connection(self.amqp_uri, heartbeat=30, connect_timeout=5)
        try:
            return self._open(conn)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.release()
            raise

    def _open(self, conn):
        conn.connect()
        link = conn.connection
        # py-amqp reads the socket before every publish when the broker may
        # block the connection; only the reader below reads it.
        props = link.client_properties
        props["capabilities"] = {**props.get("capabilities", {}), "connection.blocked": False}
        replies = link.channel()
        replies.exchange_declare(RPC_EXCHANGE_NAME, "topic", durable=True, auto_delete=False)
        replies.queue_declare(
            self.queue_name,
            durable=False,  # replies live for seconds: never written to disk
            auto_delete=True,
            arguments={"x-expires": REPLY_QUEUE_EXPIRES_MS},
        )
        replies.queue_bind(self.queue_name, RPC_EXCHANGE_NAME, self.routing_key)
        replies.basic_consume(self.queue_name, callback=self._on_reply, no_ack=True)
        requests = link.channel()
        requests.events["basic_return"].add(self._on_return)
        return conn, requests

    def _consume_forever(self):
        while self._running:
            conn = None
            try:
                conn, requests = self._connect()
                self._link = (conn, requests)
                if not self._ready.ready():
                    self._ready.send(True)
                last_beat = time.monotonic()
                while self._running:
                    with contextlib.suppress(TimeoutError):
                        conn.connection.drain_events(timeout=1)
                    if time.monotonic() - last_beat > 10:
                        with self._write:
                            conn.heartbeat_check()
                        last_beat = time.monotonic()
            except Exception as exc:  # broker gone: retry until it is back
                if self._running:
                    log.warning("reply consumer lost the broker (%s); reconnecting", exc)
            finally:
                if conn is not None:  # a connection lost, not one that never came
                    if self._link is not None and self._link[0] is conn:
                        self._link = None
                    self._fail_pending()
                    with contextlib.suppress(Exception):
                        conn.release()
            if self._running:
                eventlet.sleep(1)

    def _fail_pending(self):
        """The reply queue goes with the connection: nobody waits in vain."""
        pending, self._pending = self._pending, {}
        for waiter in pending.values():
            if not waiter.ready():
                waiter.send(_LOST)

    def _drop(self, link):
        """A connection that failed a write: the reader notices and reconnects."""
        if self._link is link:
            self._link = None
        with contextlib.suppress(Exception):
            link[0].connection.transport.sock.shutdown(socket.SHUT_RDWR)

    def _on_reply(self, message):
        waiter = self._pending.pop(message.properties.get("correlation_id"), None)
        if waiter is None or waiter.ready():
            return
        try:
            body = loads(
                message.body,
                message.properties.get("content_type"),
                message.properties.get("content_encoding"),
                accept={"application/json"},
            )
        except Exception as exc:  # not a reply nameko would send
            log.warning("unreadable RPC reply dropped (%s)", type(exc).__name__)
            body = {"result": None, "error": {"exc_type": "ValueError", "value": "bad reply"}}
        waiter.send(body)

    def _on_return(self, _exc, _exchange, _routing_key, message):
        waiter = self._pending.pop(message.properties.get("correlation_id"), None)
        if waiter is not None and not waiter.ready():
            waiter.send(_RETURNED)

    # -- calls -----------------------------------------------------------
    def _connected(self, deadline):
        """The live connection, waiting for one (a reconnect) at most 2 s within
        the deadline; None when there is none."""
        until = min(deadline, time.monotonic() + 2.0)
        while self._link is None and self._running and time.monotonic() < until:
            eventlet.sleep(0.05)
        return self._link

    def _publish(self, service, method, message, deadline):
        routing_key = f"{service}.{method}"
        for _attempt in range(3):
            link = self._connected(deadline)
            if link is None:
                raise ServiceUnavailable(service, "broker")
            acquired = False
            try:
                with eventlet.Timeout(max(deadline - time.monotonic(), 0.01)):
                    self._write.acquire()
                    acquired = True
                    link[1].basic_publish(
                        message,
                        exchange=RPC_EXCHANGE_NAME,
                        routing_key=routing_key,
                        mandatory=True,
                    )
                return
            except eventlet.Timeout:
                if acquired:  # cut off in the middle of a write
                    self._drop(link)
                raise ServiceUnavailable(service, "broker") from None
            except BROKER_ERRORS as exc:  # the broker away or restarting
                log.warning(
                    "call to %s.%s not sent: broker unreachable (%s)",
                    service,
                    method,
                    type(exc).__name__,
                )
                self._drop(link)
            finally:
                if acquired:
                    self._write.release()
        raise ServiceUnavailable(service, "broker")

    def call(self, service, method, *args, timeout=None, **kwargs):
        timeout = self.default_timeout if timeout is None else max(0.05, timeout)
        deadline = time.monotonic() + timeout
        if not self._ready.ready():
            # the reply consumer is not connected (broker down at start)
            with eventlet.Timeout(min(timeout, 2.0), False):
                self._ready.wait()
            if not self._ready.ready():
                raise ServiceUnavailable(service, "broker")
        corr = str(uuid.uuid4())
        # kombu's own JSON encoder, not services/common/jsoncodec.py's: a request's
        # values come from HTTP bodies as they are (a NaN stays NaN)
        payload = kombu_json.dumps({"args": list(args), "kwargs": kwargs})
        content_type, encoding = "application/json", "utf-8"
        message = amqp.Message(
            payload,
            content_type=content_type,
            content_encoding=encoding,
            reply_to=self.routing_key,
            correlation_id=corr,
            expiration=str(int(timeout * 1000)),
            delivery_mode=NON_PERSISTENT,  # a call outlives no broker restart
        )
        waiter = Event()
        self._pending[corr] = waiter
        try:
            self._publish(service, method, message, deadline)
            body = None
            with eventlet.Timeout(max(deadline - time.monotonic(), 0.01), False):
                body = waiter.wait()
            if body is None:
                raise ServiceUnavailable(service, "timeout")
            if body is _RETURNED:
                raise ServiceUnavailable(service, "not_running")
            if body is _LOST:
                raise ServiceUnavailable(service, "broker")
        finally:
            self._pending.pop(corr, None)
        error = body.get("error")
        if error:
            raise deserialize(error)
        return body.get("result")
