"""Tokens and principals.

A token is a signed JWT (HS256) carrying the user id and institution, with an
expiry (LEERLINGBUS_TOKEN_TTL, default 8 h). It is only accepted from the
Authorization header. On every request the principal (roles, archived or not)
comes from the users service, cached for a couple of seconds per gateway
process; archiving through this gateway drops the cache entry at once.

A token carries the user's token epoch (`pwv`, users.auth.token_epoch),
which changes with the password hash: after a password change or reset every
token issued before it is refused (401), as after archiving.
"""

import time
import uuid

import jwt

from services.common.errors import DomainError

ALGORITHM = "HS256"


def unauthorized(
    code="token_invalid",
    message="U bent niet aangemeld of uw sessie is verlopen. Meld u opnieuw aan.",
):
    return DomainError(code, message, status=401)


class TokenService:
    def __init__(self, secret_key, ttl):
        self.secret_key = secret_key
        self.ttl = ttl

    def issue(self, principal):
        now = int(time.time())
        claims = {
            "sub": str(principal["user_id"]),
            "inst": principal["institution_id"],
            "pwv": principal.get("token_epoch"),
            "iat": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.secret_key, algorithm=ALGORITHM)

    def verify(self, token):
        try:
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized(
                "token_expired", "Uw sessie is verlopen. Meld u opnieuw aan."
            ) from None
        except jwt.PyJWTError:
            raise unauthorized() from None
        try:
            return int(claims["sub"]), claims.get("inst"), claims.get("pwv")
        except (TypeError, ValueError):
            raise unauthorized() from None


def bearer_token(request):
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("not_authenticated", "U bent niet aangemeld. Meld u eerst aan.")
    return token.strip()


class PrincipalCache:
    def __init__(self, ttl):
        self.ttl = ttl
        self._items = {}

    def get(self, user_id):
        hit = self._items.get(user_id)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        self._items.pop(user_id, None)
        return None

    def put(self, user_id, principal):
        if self.ttl > 0:
            self._items[user_id] = (principal, time.monotonic() + self.ttl)

    def drop(self, user_id=None, institution_id=None, code=None):
        if user_id is not None:
            self._items.pop(user_id, None)
        if code is not None:
            for key, (principal, _) in list(self._items.items()):
                if principal["code"] == code and principal["institution_id"] == institution_id:
                    self._items.pop(key, None)


def has_role(principal, *roles):
    return bool(set(principal.get("roles") or ()) & set(roles))
