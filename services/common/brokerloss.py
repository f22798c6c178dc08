"""Losing the broker must not stop a service (installed on import of services.common.rpc).

nameko treats an exception in a worker's result handling as fatal ("thread exited
with error" kills the container). Two such exceptions come from a broker that
restarts or a connection that drops while a worker finishes:

- sending an RPC reply (RpcConsumer.handle_result): the reply is logged and dropped;
  the caller's own deadline answers it;
- acknowledging or requeueing a message (QueueConsumer.ack_message/requeue_message):
  nameko only catches amqp's ConnectionError, not the socket's (ConnectionResetError,
  BrokenPipeError). The delivery dies with the connection and the broker redelivers
  the message, so there is nothing to do but log it.

nameko's consumer reconnects by itself (kombu's ConsumerMixin), but with kombu's
default back-off (2, 4, 6 … up to 30 s between attempts): after a longer outage a
service would stay away for up to half a minute once the broker is back. Its
attempts are made every RECONNECT_INTERVAL_MAX seconds at most instead.
"""

import contextlib
import logging
from contextlib import contextmanager

from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko import messaging as nameko_messaging
from nameko import rpc as nameko_rpc

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (OSError, KombuError, AMQPError)
RECONNECT_INTERVAL_MAX = 2.0


@contextmanager
def _establish_connection(self):
    with self.create_connection() as conn:
        conn.ensure_connection(
            self.on_connection_error,
            self.connect_max_retries,
            interval_start=0.5,
            interval_step=0.5,
            interval_max=RECONNECT_INTERVAL_MAX,
        )
        yield conn


_establish_connection.broker_loss_safe = True  # type: ignore[attr-defined]


def _routing_key(message):
    return (getattr(message, "delivery_info", None) or {}).get("routing_key", "?")


def _safe_settle(original, verb):
    def settle(self, message):
        try:
            return original(self, message)
        except CONNECTION_ERRORS as exc:
            log.warning(
                "could not %s a message of %s (%s); the broker redelivers it",
                verb,
                _routing_key(message),
                type(exc).__name__,
            )

    settle.broker_loss_safe = True  # type: ignore[attr-defined]
    return settle


def _safe_reply(original):
    def handle_result(self, message, result, exc_info):
        try:
            return original(self, message, result, exc_info)
        except Exception as exc:  # the reply could not reach the broker
            log.warning(
                "reply to %s not sent (%s: %s); the caller times out",
                _routing_key(message),
                type(exc).__name__,
                exc,
            )
            # connection gone: the broker requeues the request
            with contextlib.suppress(Exception):
                self.queue_consumer.ack_message(message)
            return result, exc_info

    handle_result.broker_loss_safe = True  # type: ignore[attr-defined]
    return handle_result


def install():
    consumer = nameko_messaging.QueueConsumer
    if not getattr(consumer.ack_message, "broker_loss_safe", False):
        consumer.ack_message = _safe_settle(consumer.ack_message, "acknowledge")
        consumer.requeue_message = _safe_settle(consumer.requeue_message, "requeue")
    if not getattr(consumer.establish_connection, "broker_loss_safe", False):
        consumer.establish_connection = _establish_connection
    rpc_consumer = nameko_rpc.RpcConsumer
    if not getattr(rpc_consumer.handle_result, "broker_loss_safe", False):
        rpc_consumer.handle_result = _safe_reply(rpc_consumer.handle_result)
