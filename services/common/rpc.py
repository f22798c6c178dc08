"""RPC entrypoint for domain methods: DomainError is expected, not a crash."""
from nameko.rpc import rpc

from .errors import DomainError


def domain_rpc(fn):
    return rpc(expected_exceptions=DomainError)(fn)
