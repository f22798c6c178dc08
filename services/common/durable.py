"""The durable event consumer every service uses: bounded retry with back-off,
then the message is parked.

    from services.common.durable import durable_event_handler

    @durable_event_handler("users", "user_archived")
    def on_user_archived(self, payload): ...

- The queue `evt-<source>-<type>--<service>.<method>` is durable and shared by
  every instance of the service (nameko SERVICE_POOL, reliable_delivery), so
  events published while no instance runs wait for the next one.
- A handler that raises is never requeued in place (that blocks nothing but
  spins for ever). The message is acknowledged after a copy went, with
  publisher confirms, to one of two queues of its own:
    `<queue>.retry`   per-message TTL = the back-off; when it expires the
                      broker dead-letters it back onto `<queue>` (default
                      exchange), with the attempt count in `x-attempts`;
    `<queue>.parked`  after LEERLINGBUS_EVENT_MAX_ATTEMPTS deliveries, or at
                      once for an error a retry cannot cure (events.decide),
                      with the error (`x-error-type`, `x-error`) in headers.
  Other messages keep flowing meanwhile: nothing waits on the main queue.
  (The broker expires messages at the head of `<queue>.retry` only, so a
  retry may wait up to LEERLINGBUS_EVENT_RETRY_MAX_DELAY longer than its own
  back-off behind a longer one: bounded, and it blocks no fresh event.)
- One log line per failed delivery, no traceback (nameko's own traceback of
  the worker is dropped by FailureLogFilter); the traceback is logged once,
  when a message that failed unexpectedly is parked.
- Handlers are idempotent by event_id (services/common/events.py), so a
  crash between the copy and the ack changes nothing.

services/common/parked.py lists, replays and drops parked messages.
"""

import datetime as dt
import logging

import eventlet
from kombu import Queue
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import SERVICE_POOL, EventHandler
from nameko.messaging import QueueConsumer

from . import events

log = logging.getLogger(__name__)

ATTEMPTS = "x-attempts"
ERROR_TYPE = "x-error-type"
ERROR = "x-error"
PARKED_AT = "x-parked-at"
ORIGIN = "x-origin-queue"


def queue_name(source_service, event_type, service_name, method_name):
    """nameko's name of a SERVICE_POOL event queue."""
    return f"evt-{source_service}-{event_type}--{service_name}.{method_name}"


def retry_queue(name):
    """Expired messages go back onto `name` through the default exchange."""
    return Queue(
        f"{name}.retry",
        durable=True,
        auto_delete=False,
        queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
    )


def parked_queue(name):
    return Queue(f"{name}.parked", durable=True, auto_delete=False)


def attempts_of(message):
    value = (message.headers or {}).get(ATTEMPTS)
    return value if isinstance(value, int) and value > 0 else 0


class ParkingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a message whose body cannot be
    decoded (not JSON) is parked by its durable handler instead of being
    acknowledged and lost (kombu's default)."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            if isinstance(provider, DurableEventHandler):
                consumer.on_decode_error = provider.park_undecodable
        return consumers


class DurableEventHandler(EventHandler):
    queue_consumer = ParkingQueueConsumer()

    def __init__(self, source_service, event_type, **kwargs):
        kwargs.update(handler_type=SERVICE_POOL, reliable_delivery=True, requeue_on_error=False)
        super().__init__(source_service, event_type, **kwargs)

    def setup(self):
        super().setup()
        config = self.container.config
        self.policy = events.RetryPolicy.from_config(config)
        self.retry_queue = retry_queue(self.queue.name)
        self.parked_queue = parked_queue(self.queue.name)
        self.publisher = Publisher(
            config[AMQP_URI_CONFIG_KEY],
            use_confirms=True,
            declare=[self.retry_queue, self.parked_queue],
        )

    @property
    def where(self):
        return f"{self.container.service_name}.{self.method_name}"

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return result, exc_info
        exc = exc_info[1]
        attempt = attempts_of(message) + 1
        decision = events.decide(attempt, exc, self.policy)
        kind, text = events.describe_error(exc)
        try:
            if decision.action == "retry":
                self._forward(
                    message, self.retry_queue, {ATTEMPTS: attempt}, expiration=decision.delay
                )
                log.warning(
                    "%s failed (attempt %d of %d, %s: %s); retried in %.1f s",
                    self.where,
                    attempt,
                    self.policy.max_attempts,
                    kind,
                    text,
                    decision.delay,
                )
            else:
                self._park(message, attempt, kind, text)
                if decision.reason == "permanent":
                    self._log_never_applies(kind, text)
                else:
                    log.error(
                        "%s parked an event after %d attempts (%s: %s) on %s",
                        self.where,
                        attempt,
                        kind,
                        text,
                        self.parked_queue.name,
                        exc_info=exc_info,
                    )
        except Exception as publish_exc:  # broker trouble: the broker redelivers it
            log.warning(
                "%s could not move a failed event aside (%s); requeued",
                self.where,
                type(publish_exc).__name__,
            )
            eventlet.sleep(min(5.0, self.policy.base_delay))  # no hot loop meanwhile
            self.queue_consumer.requeue_message(message)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def park_undecodable(self, message, exc):
        """A body that is no JSON never reaches the handler: parked as it is."""
        kind, text = "DecodeError", "the body is not valid JSON"
        try:
            self._park(message, attempts_of(message) + 1, kind, text)
        except Exception as publish_exc:
            log.warning(
                "%s could not park an undecodable event (%s); requeued",
                self.where,
                type(publish_exc).__name__,
            )
            message.requeue()
            return
        self._log_never_applies(kind, text)
        message.ack()

    def _park(self, message, attempts, kind, text):
        headers = {
            ATTEMPTS: attempts,
            ERROR_TYPE: kind,
            ERROR: text,
            ORIGIN: self.queue.name,
            PARKED_AT: dt.datetime.now(dt.UTC).isoformat(),
        }
        self._forward(message, self.parked_queue, headers)

    def _log_never_applies(self, kind, text):
        log.error(
            "%s parked an event it can never apply (%s: %s) on %s",
            self.where,
            kind,
            text,
            self.parked_queue.name,
        )

    def _forward(self, message, queue, headers, expiration=None):
        """Publish the message as received (body, content type, headers) onto
        `queue`, confirmed by the broker."""
        merged = {
            k: v for k, v in (message.headers or {}).items() if k != "x-death"
        }  # the broker's own trail grows with every retry
        merged.update(headers)
        kwargs = {}
        if expiration is not None:
            kwargs["expiration"] = max(0.0, expiration)  # seconds; kombu sends ms
        self.publisher.publish(
            message.body,
            exchange="",
            routing_key=queue.name,
            headers=merged,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            **kwargs,
        )


durable_event_handler = DurableEventHandler.decorator


def consumers(service_cls):
    """The durable queues of a service class: [(queue name, source, type)]."""
    found = []
    for attr in sorted(dir(service_cls)):
        method = getattr(service_cls, attr, None)
        for entrypoint in getattr(method, "nameko_entrypoints", ()) or ():
            if isinstance(entrypoint, DurableEventHandler):
                found.append(
                    (
                        queue_name(
                            entrypoint.source_service, entrypoint.event_type, service_cls.name, attr
                        ),
                        entrypoint.source_service,
                        entrypoint.event_type,
                    )
                )
    return found


class FailureLogFilter(logging.Filter):
    """nameko logs a failing worker with its traceback; for a durable event
    handler DurableEventHandler.handle_result logs one line instead."""

    def filter(self, record):
        if "error handling worker" not in str(record.msg):
            return True
        worker = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return not isinstance(getattr(worker, "entrypoint", None), DurableEventHandler)


def install_log_filter():
    logger = logging.getLogger("nameko.containers")
    if not any(isinstance(f, FailureLogFilter) for f in logger.filters):
        logger.addFilter(FailureLogFilter())


install_log_filter()
