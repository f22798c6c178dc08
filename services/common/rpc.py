"""RPC helpers shared by the services.

`domain_rpc`: an entrypoint for which DomainError is an expected answer, not a
crash: the caller receives the DomainError itself, and the log gets one line
(quietlogs.RefusalLogFilter), not a traceback.

`ServiceRpc`: nameko's RpcProxy with a deadline. The plain proxy waits forever
for a reply; with a neighbour down that blocks the worker for good. Here each
call waits at most `timeout` seconds and then raises DomainError
`service_unavailable` (503), and the request message carries the same TTL, so
a neighbour that comes back later does not execute a call whose caller gave up.

`install_safe_replies` (run on import): a reply that cannot be sent (the broker
restarting, the connection lost) is logged and dropped instead of raising in the
worker thread, which nameko treats as fatal ("thread exited with error") and
which stopped the whole service. The caller's own deadline answers it; an
unacknowledged request is redelivered by the broker while its TTL lasts.
"""
import logging

import eventlet
from nameko import rpc as nameko_rpc
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy, rpc

from . import quietlogs
from .errors import DomainError

DEFAULT_TIMEOUT = 8.0

SERVICE_NAMES_NL = {"users": "gebruikers", "students": "leerlingen", "uploads": "uploads",
                    "sync": "koppeling", "oso": "OSO"}


log = logging.getLogger(__name__)

quietlogs.install()


def install_safe_replies():
    consumer = nameko_rpc.RpcConsumer
    if getattr(consumer.handle_result, "safe_replies", False):
        return
    original = consumer.handle_result

    def handle_result(self, message, result, exc_info):
        try:
            return original(self, message, result, exc_info)
        except Exception as exc:  # the reply or its ack could not reach the broker
            key = (getattr(message, "delivery_info", None) or {}).get("routing_key", "?")
            log.warning("reply to %s not sent (%s: %s); the caller times out", key,
                        type(exc).__name__, exc)
            try:
                self.queue_consumer.ack_message(message)
            except Exception:  # connection gone: the broker requeues the request
                pass
            return result, exc_info

    handle_result.safe_replies = True
    consumer.handle_result = handle_result


install_safe_replies()


def domain_rpc(fn):
    return rpc(expected_exceptions=DomainError)(fn)


def unavailable(service):
    name = SERVICE_NAMES_NL.get(service, service)
    return DomainError("service_unavailable",
                       f"De dienst '{name}' is tijdelijk niet bereikbaar. Probeer het later opnieuw.",
                       status=503, extra={"service": service})


class ServiceRpc(RpcProxy):
    def __init__(self, target_service, timeout=DEFAULT_TIMEOUT, **options):
        options.setdefault("expiration", timeout)
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx):
        return _TimedServiceProxy(super().get_dependency(worker_ctx), self.target_service,
                                  self.timeout)


class _TimedServiceProxy:
    def __init__(self, proxy, service, timeout):
        self._proxy = proxy
        self._service = service
        self._timeout = timeout

    def __getattr__(self, name):
        method = getattr(self._proxy, name)

        def call(*args, timeout=None, **kwargs):
            try:
                reply = method.call_async(*args, **kwargs)
            except UnknownService:
                raise unavailable(self._service) from None
            with eventlet.Timeout(timeout or self._timeout, False):
                return reply.result()
            raise unavailable(self._service)

        call.call_async = method.call_async
        return call
