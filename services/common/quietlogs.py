"""Expected refusals are not errors in the logs.

Two sources made a first run look broken (26 tracebacks and 21 AMQP channel
warnings before anyone did anything wrong):

- nameko logs every *expected* exception of an entrypoint at WARNING with its
  traceback ("(expected) error handling worker ..."). A DomainError is an
  answer (a 404, a 422 naming a field), not a fault: RefusalLogFilter makes
  it one line, "users.get_user answered 404 not_found", at INFO for a 4xx and
  WARNING for a 5xx (a neighbour down), without traceback.
- An RPC request is published `mandatory` with publisher confirms: when the
  service is not running (yet), the broker returns the message and then
  acknowledges it. The caller already has its answer (503
  service_unavailable) and the channel is being closed, so py-amqp logs the
  late acknowledgement as "Received method (60, 80) during closing channel".
  LateAckFilter drops exactly that line (basic.ack); any other method
  received while closing is still logged.

`install()` puts both on their loggers (not on handlers: they hold whatever
logging configuration a process has); services/common/rpc.py (every service)
and gateway/bus.py call it on import.
"""

import logging

from .errors import DomainError

BASIC_ACK = (60, 80)


class RefusalLogFilter(logging.Filter):
    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, DomainError) or not str(record.msg).startswith("(expected)"):
            return True
        worker = record.args[0] if isinstance(record.args, tuple) and record.args else None
        entrypoint = getattr(worker, "entrypoint", None)
        where = f"{getattr(worker, 'service_name', '?')}.{getattr(entrypoint, 'method_name', '?')}"
        record.msg = "%s answered %s %s"
        record.args = (where, exc.status, exc.code)
        record.exc_info = None
        record.exc_text = None
        if exc.status < 500:
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class LateAckFilter(logging.Filter):
    def filter(self, record):
        if "during closing channel" not in str(record.msg):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        method = args[0] if args else None
        return not (isinstance(method, (tuple, list)) and tuple(method) == BASIC_ACK)


def install():
    for name, cls in (("nameko.containers", RefusalLogFilter), ("amqp", LateAckFilter)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())
