"""RPC helpers shared by the services.

`domain_rpc`: an entrypoint for which DomainError is an expected answer, not a
crash: the caller receives the DomainError itself, and the log gets one line
(quietlogs.RefusalLogFilter), not a traceback.

`ServiceRpc`: nameko's RpcProxy with a deadline. The plain proxy waits forever
for a reply; with a neighbour down that blocks the worker for good. Here each
call waits at most `timeout` seconds and then raises DomainError
`service_unavailable` (503), and the request message carries the same TTL, so
a neighbour that comes back later does not execute a call whose caller gave up.

Importing this module also makes every service survive a broker restart
(services/common/brokerloss.py): a reply or an ack that cannot reach the broker
no longer stops the service.
"""

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy, rpc

from . import brokerloss, quietlogs
from .errors import DomainError

DEFAULT_TIMEOUT = 8.0

SERVICE_NAMES_NL = {
    "users": "gebruikers",
    "students": "leerlingen",
    "uploads": "uploads",
    "sync": "koppeling",
    "oso": "OSO",
}

quietlogs.install()
brokerloss.install()


def domain_rpc(fn):
    return rpc(expected_exceptions=DomainError)(fn)


def unavailable(service):
    name = SERVICE_NAMES_NL.get(service, service)
    return DomainError(
        "service_unavailable",
        f"De dienst '{name}' is tijdelijk niet bereikbaar. Probeer het later opnieuw.",
        status=503,
        extra={"service": service},
    )


class ServiceRpc(RpcProxy):
    def __init__(self, target_service, timeout=DEFAULT_TIMEOUT, **options):
        options.setdefault("expiration", timeout)
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx):
        return _TimedServiceProxy(
            super().get_dependency(worker_ctx), self.target_service, self.timeout
        )


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
            except (UnknownService, *brokerloss.CONNECTION_ERRORS):  # not running / no broker
                raise unavailable(self._service) from None
            with eventlet.Timeout(timeout or self._timeout, False):
                return reply.result()
            raise unavailable(self._service)

        call.call_async = method.call_async  # type: ignore[attr-defined]
        return call
