"""Password hashing with argon2id (argon2-cffi).

Hashing costs about 0.1 s of CPU. Under eventlet (a nameko worker) the work
runs in eventlet's thread pool, so one login does not stall every other green
thread of the process; argon2-cffi releases the GIL while it hashes.
"""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_dummy_hash = None


def _eventlet_patched():
    try:
        from eventlet import patcher
    except ImportError:  # pragma: no cover
        return False
    return patcher.is_monkey_patched("thread")


def _run(fn, *args):
    if _eventlet_patched():
        from eventlet import tpool
        return tpool.execute(fn, *args)
    return fn(*args)


def hash_password(password: str) -> str:
    return _run(_hasher.hash, password)


def hash_passwords(passwords):
    """Hashes of several passwords, in parallel where eventlet allows it."""
    passwords = list(passwords)
    if len(passwords) > 1 and _eventlet_patched():
        from eventlet import GreenPool
        return list(GreenPool(8).imap(hash_password, passwords))
    return [hash_password(p) for p in passwords]


def _verify(password_hash, password):
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_password(password_hash, password) -> bool:
    """True when `password` matches. Without a hash (unknown account, account
    without a password) a dummy hash is checked so the time taken is the same."""
    global _dummy_hash
    if not isinstance(password, str):
        password = ""
    if not password_hash:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("leerlingbus: no such account")
        _run(_verify, _dummy_hash, password)
        return False
    return bool(_run(_verify, password_hash, password))


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False
