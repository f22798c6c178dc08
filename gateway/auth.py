"""Tokens and principals.

A token is a signed JWT (HS256) carrying the user id and institution, with an
expiry (LEERLINGBUS_TOKEN_TTL, default 8 h). It is only accepted from the
Authorization header. On every request the principal (roles, archived or not)
comes from the users service, cached for a couple of seconds per gateway
process; archiving through this gateway drops the cache entry at once.

A token carries the user's token epoch (`pwv`, users.auth.token_epoch),
which changes with the password hash: after a password change or reset every
token issued before it is refused (401), as after archiving.

A verified token's claims are kept until the token expires (TokenService:
checking the signature costs more than the rest of a small request). Only the
signature check is skipped: the expiry is checked on every use, and the epoch
is compared with the principal's on every request (gateway.app), so a password
change still refuses the token within the principal cache's few seconds.
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
    MAX_CACHED = 10_000  # verified tokens kept; only validly signed ones get in

    def __init__(self, secret_key, ttl):
        self.secret_key = secret_key
        self.ttl = ttl
        self._verified: dict[str, tuple[float, tuple]] = {}

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
        """(user id, institution id, token epoch) of a validly signed,
        unexpired token; else a 401 DomainError."""
        hit = self._verified.get(token)
        if hit is not None:
            if hit[0] > time.time():
                return hit[1]
            del self._verified[token]
        *found, expires = self._verify(token)
        self._remember(token, expires, tuple(found))
        return tuple(found)

    def _remember(self, token, expires, found):
        if len(self._verified) >= self.MAX_CACHED:
            now = time.time()
            self._verified = {t: v for t, v in self._verified.items() if v[0] > now}
            if len(self._verified) >= self.MAX_CACHED:
                self._verified.clear()
        self._verified[token] = (expires, found)

    def _verify(self, token):
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
            return int(claims["sub"]), claims.get("inst"), claims.get("pwv"), float(claims["exp"])
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
