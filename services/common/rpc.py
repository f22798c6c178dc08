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
no longer stops the service; sends RPC replies on kept channels
(services/common/channels.py); and checks a call's arguments against its
entrypoint's signature read once, not on every call; and starts the worker of
an RPC request without a green thread in between.
"""

import functools
import inspect

import eventlet
from nameko.exceptions import IncorrectSignature, UnknownService
from nameko.extensions import Entrypoint
from nameko.messaging import QueueConsumer
from nameko.rpc import RpcConsumer, RpcProxy, rpc

from . import brokerloss, channels, jsoncodec, quietlogs
from . import config as cfg
from .errors import DomainError

# How long a caller waits for a neighbour, by kind of call (seconds); the
# environment (or nameko config) key LEERLINGBUS_RPC_DEADLINE_<KIND> overrides one.
DEADLINES = {
    "call": 8.0,  # a lookup or one write: what a person waits for
    "write": 30.0,  # a write of many rows for one request
    "batch": 120.0,  # one chunk of a CSV import or of a connector upload
    "load": 300.0,  # one chunk of a list's load (accounts and records)
}
DEFAULT_TIMEOUT = DEADLINES["call"]


def rpc_deadline(kind, config=None) -> float:
    return float(cfg.setting(f"LEERLINGBUS_RPC_DEADLINE_{kind.upper()}", config, DEADLINES[kind]))


SERVICE_NAMES_NL = {
    "users": "gebruikers",
    "students": "leerlingen",
    "uploads": "uploads",
    "sync": "koppeling",
    "oso": "OSO",
}


@functools.cache
def _signature(service_cls, method_name):
    return inspect.signature(getattr(service_cls, method_name), follow_wrapped=False)


def _check_signature(self, args, kwargs):
    """nameko's check that a call fits its entrypoint, with the signature read
    once per method instead of on every call (inspect.getcallargs)."""
    try:
        _signature(self.container.service_cls, self.method_name).bind(None, *args, **kwargs)
    except TypeError as exc:
        raise IncorrectSignature(str(exc)) from None


_spawn_handler = QueueConsumer.handle_message


def _handle_message(self, provider, body, message):
    """nameko hands every message to a green thread of its own, whose only job
    is to start the worker (so that a full worker pool never stalls the
    consumer). An RPC request for which the pool has room starts its worker
    at once: one green thread and one trip through the hub less per call."""
    if isinstance(provider, RpcConsumer) and self.container._worker_pool.free() > 0:
        provider.handle_message(body, message)
    else:
        _spawn_handler(self, provider, body, message)


quietlogs.install()
brokerloss.install()
channels.install()
jsoncodec.install()
Entrypoint.check_signature = _check_signature
QueueConsumer.handle_message = _handle_message


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
    """`deadline`: a kind of call named in DEADLINES (resolved from the
    container's config or the environment when the service starts), or a
    number of seconds."""

    def __init__(self, target_service, deadline="call", **options):
        super().__init__(target_service, **options)
        self.deadline = deadline
        self.timeout = rpc_deadline(deadline) if isinstance(deadline, str) else float(deadline)
        self.options.setdefault("expiration", self.timeout)

    def setup(self):
        super().setup()
        if isinstance(self.deadline, str):
            self.timeout = rpc_deadline(self.deadline, self.container.config)
            self.options["expiration"] = self.timeout

    def get_dependency(self, worker_ctx):
        return _TimedServiceProxy(
            super().get_dependency(worker_ctx),
            self.target_service,
            self.timeout,
            self.container.config,
        )


class _TimedServiceProxy:
    def __init__(self, proxy, service, timeout, config=None):
        self._proxy = proxy
        self._service = service
        self._timeout = timeout
        self._config = config

    def __getattr__(self, name):
        method = getattr(self._proxy, name)

        def call(*args, timeout=None, deadline=None, **kwargs):
            """`deadline`: a kind of call for this one call (e.g. "batch")."""
            if deadline is not None:
                timeout = rpc_deadline(deadline, self._config)
            try:
                reply = method.call_async(*args, **kwargs)
            except (UnknownService, *brokerloss.CONNECTION_ERRORS):  # not running / no broker
                raise unavailable(self._service) from None
            with eventlet.Timeout(timeout or self._timeout, False):
                return reply.result()
            raise unavailable(self._service)

        call.call_async = method.call_async  # type: ignore[attr-defined]
        return call
