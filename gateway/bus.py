"""RPC from the gateway to the services, with a deadline on every call.

nameko's in-service RpcProxy waits forever and its standalone proxy cannot be
shared between green threads, so the gateway speaks nameko's RPC protocol
itself: one reply queue per gateway process, consumed by one green thread that
hands each reply to the waiting request by correlation id. Every request
message carries a per-message TTL equal to the caller's remaining deadline, so
a request the gateway has given up on is dropped by the broker instead of being
executed later by a service that comes back.

Requests go out on kept confirm-mode channels (services/common/channels.py):
a call costs one publish and its broker acknowledgement, no connection or
producer set-up. A request the broker returns (mandatory: no service consumes
it) is a 503 at once. Requests are transient and the reply queue is not durable: an RPC outlives no
broker restart, so nothing of it is written to disk.
"""

import contextlib
import logging
import time
import uuid

import amqp
import eventlet
from eventlet.event import Event
from kombu import Connection, Consumer, Exchange, Queue
from kombu.utils import json as kombu_json
from nameko.constants import NON_PERSISTENT
from nameko.exceptions import deserialize

from services.common import quietlogs
from services.common.channels import BROKER_ERRORS, ChannelPool, Returned

quietlogs.install()  # a call to a service not (yet) running is a 503, not a channel warning

log = logging.getLogger(__name__)

RPC_EXCHANGE = Exchange("nameko-rpc", type="topic", durable=True, auto_delete=False)


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
        self.queue = Queue(
            f"rpc.reply-gateway-{self.routing_key}",
            exchange=RPC_EXCHANGE,
            routing_key=self.routing_key,
            durable=False,  # replies live for seconds: never written to disk
            auto_delete=True,
            queue_arguments={"x-expires": 300000},
        )
        self.channels = ChannelPool(amqp_uri)  # this client's own: stop() closes it
        self._pending = {}
        self._ready = Event()
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
        self.channels.close()

    def _consume_forever(self):
        while self._running:
            try:
                with (
                    Connection(self.amqp_uri, heartbeat=30) as conn,
                    Consumer(
                        conn,
                        queues=[self.queue],
                        callbacks=[self._on_reply],
                        accept=["json"],
                        no_ack=True,
                    ),
                ):
                    if not self._ready.ready():
                        self._ready.send(True)
                    last_beat = time.monotonic()
                    while self._running:
                        with contextlib.suppress(TimeoutError):
                            conn.drain_events(timeout=1)
                        if time.monotonic() - last_beat > 10:
                            conn.heartbeat_check()
                            last_beat = time.monotonic()
            except Exception as exc:  # broker gone: retry until it is back
                if self._running:
                    log.warning("reply consumer lost the broker (%s); reconnecting", exc)
                    eventlet.sleep(1)

    def _on_reply(self, body, message):
        corr = message.properties.get("correlation_id")
        waiter = self._pending.pop(corr, None)
        if waiter is not None and not waiter.ready():
            waiter.send(body)

    # -- calls -----------------------------------------------------------
    def call(self, service, method, *args, timeout=None, **kwargs):
        timeout = self.default_timeout if timeout is None else max(0.05, timeout)
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
        started = time.monotonic()
        try:
            try:
                with eventlet.Timeout(timeout):
                    self.channels.publish(message, RPC_EXCHANGE.name, f"{service}.{method}")
            except Returned:
                raise ServiceUnavailable(service, "not_running") from None
            except eventlet.Timeout:
                raise ServiceUnavailable(service, "broker") from None
            except BROKER_ERRORS as exc:  # the broker away or restarting
                log.warning(
                    "call to %s.%s not sent: broker unreachable (%s)",
                    service,
                    method,
                    type(exc).__name__,
                )
                raise ServiceUnavailable(service, "broker") from None
            remaining = timeout - (time.monotonic() - started)
            body = None
            with eventlet.Timeout(max(remaining, 0.01), False):
                body = waiter.wait()
            if body is None:
                raise ServiceUnavailable(service, "timeout")
        finally:
            self._pending.pop(corr, None)
        error = body.get("error")
        if error:
            raise deserialize(error)
        return body.get("result")
