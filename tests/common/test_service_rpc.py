"""ServiceRpc: in-service RPC with a deadline, over a real RabbitMQ."""
import time

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.errors import DomainError
from services.common.rpc import ServiceRpc, domain_rpc


class Callee:
    name = "callee"

    @domain_rpc
    def echo(self, value):
        return value

    @domain_rpc
    def refuse(self):
        raise DomainError("conflict", "Bestaat al.", status=409)


class Caller:
    name = "caller"
    callee = ServiceRpc("callee", deadline=1.0)

    @domain_rpc
    def ask(self, value):
        return self.callee.echo(value)

    @domain_rpc
    def ask_refused(self):
        return self.callee.refuse()


def test_call_passes_results_and_domain_errors(container_factory, rabbit_config):
    container_factory(Callee, rabbit_config).start()
    container_factory(Caller, rabbit_config).start()
    with ServiceRpcProxy("caller", rabbit_config, timeout=10) as caller:
        assert caller.ask(42) == 42
        with pytest.raises(DomainError) as info:
            caller.ask_refused()
        assert info.value.code == "conflict" and info.value.status == 409


def test_a_stopped_neighbour_gives_503_within_the_deadline(container_factory, rabbit_config):
    callee = container_factory(Callee, rabbit_config)
    callee.start()
    container_factory(Caller, rabbit_config).start()
    callee.stop()  # its queue stays, nobody consumes it
    with ServiceRpcProxy("caller", rabbit_config, timeout=10) as caller:
        started = time.monotonic()
        with pytest.raises(DomainError) as info:
            caller.ask(1)
        assert info.value.status == 503 and info.value.code == "service_unavailable"
        assert time.monotonic() - started < 3


def test_a_neighbour_that_never_ran_gives_503(container_factory, rabbit_config):
    container_factory(Caller, rabbit_config).start()
    with ServiceRpcProxy("caller", rabbit_config, timeout=10) as caller:
        with pytest.raises(DomainError) as info:
            caller.ask(1)
        assert info.value.status == 503


def test_a_reply_that_cannot_be_sent_does_not_stop_the_service(container_factory, rabbit_config,
                                                                 monkeypatch):
    """The broker away while a reply goes out raised in the worker thread, which
    nameko treats as fatal: the whole service stopped. Now the reply is dropped
    (the caller's deadline answers it) and the service keeps serving."""
    from nameko.rpc import Responder
    from kombu.exceptions import OperationalError

    container = container_factory(Callee, rabbit_config)
    container.start()
    real_send = Responder.send_response
    failures = []

    def send_response(self, result, exc_info):
        if not failures:
            failures.append(result)
            raise OperationalError("[Errno 111] Connection refused")
        return real_send(self, result, exc_info)

    monkeypatch.setattr(Responder, "send_response", send_response)
    with ServiceRpcProxy("callee", rabbit_config, timeout=2) as callee:
        from nameko.exceptions import RpcTimeout
        with pytest.raises(RpcTimeout):
            callee.echo("lost")
        assert failures == ["lost"]
        assert callee.echo("next") == "next"
    assert not container._died.ready()
