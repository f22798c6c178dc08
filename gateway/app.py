"""The HTTP gateway: a WSGI app (werkzeug) in front of the RPC bus.

No business rules here: it authenticates, checks roles and tenant scope,
validates the shape of requests with the marshmallow schemas, calls the
owning service and maps errors in one place (gateway/errors.py).
"""

import functools
import json
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from services.common import filestore
from services.common.errors import DomainError, not_found
from services.common.logredact import escape_controls

from . import errors as errmap
from . import routes  # noqa: F401  (registers every route)
from .auth import PrincipalCache, TokenService, bearer_token, unauthorized
from .context import MAX_ID, RequestContext
from .openapi import spec_dict
from .routing import ROUTES

log = logging.getLogger("gateway")
access_log = logging.getLogger("gateway.access")


_LONG_NUMBER = re.compile(r"\d{8,}")
# JSON nesting the API ever needs is shallow (a snapshot: 4 levels); deeper is refused.
MAX_JSON_DEPTH = 32


def json_depth_ok(data, limit=MAX_JSON_DEPTH):
    """True when `data` nests at most `limit` containers deep (iterative: no
    recursion for a hostile body)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def loggable_path(path):
    """Paths may carry a BSN (/oso/students/{bsn}); never log one. A decoded
    `%0A` stays escaped: one request, one log line."""
    return escape_controls(_LONG_NUMBER.sub(lambda m: "*" * len(m.group()), path))


def json_response(data, status=200, headers=None):
    return Response(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


def big_ints(data, prefix=""):
    """The paths of integers in loaded request data beyond 64 bits (no
    database holds them: refused as out of range instead of overflowing)."""
    stack = [(data, prefix)]
    found = []
    while stack:
        value, path = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            if abs(value) > MAX_ID:
                found.append(path or "body")
        elif isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, path) for v in value)
    return found


@functools.cache
def schema(cls):
    """One instance per schema class: loading keeps no state on the instance,
    and building one costs more than the load of a small request."""
    return cls()


def check_ints(data):
    found = big_ints(data)
    if found:
        raise ValidationError({name: ["range_invalid"] for name in found})


class Gateway:
    def __init__(self, settings, bus, files=None):
        self.settings = settings
        self.bus = bus
        # the shared file store (uploads in, downloads out); from the environment
        self.files = files if files is not None else filestore.from_config()
        self.tokens = TokenService(settings.secret_key, settings.token_ttl)
        self.principals = PrincipalCache(settings.principal_cache_ttl)
        self.url_map = Map(
            [Rule(r.path, endpoint=r, methods=[r.method]) for r in ROUTES], strict_slashes=False
        )

    # -- WSGI ------------------------------------------------------------
    def __call__(self, environ, start_response):
        started = time.monotonic()
        # No reference cycles per request, so the garbage collector seldom runs
        # (gctune): eventlet's `set_idle` (for websockets, which this app has
        # none of) ties the environ to its connection and back, and a request
        # that puts itself into its environ ties the two.
        environ.pop("eventlet.set_idle", None)
        request = Request(environ, populate_request=False)
        request.max_content_length = self.settings.max_json_bytes
        response = self.dispatch(request)
        access_log.info(
            "%s %s %s %.1fms",
            request.method,
            loggable_path(request.path),
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response(environ, start_response)

    def dispatch(self, request):
        try:
            adapter = self.url_map.bind_to_environ(request.environ)
            route, path_args = adapter.match()
            if any(isinstance(v, int) and v > MAX_ID for v in path_args.values()):
                raise not_found("record", "Niet gevonden.")
            ctx = RequestContext(self, request, route)
            if route.auth:
                ctx.principal = self.authenticate(request)
                if route.roles:
                    ctx.require(*route.roles)
            if route.query is not None:
                ctx.query = schema(route.query).load(request.args.to_dict())
                check_ints(ctx.query)
            if route.body is not None:
                ctx.body = schema(route.body).load(self.json_body(request, route))
                check_ints(ctx.body)
            elif route.body_doc is not None:
                ctx.body = self.json_body(request, route)
                check_ints(ctx.body)
            if route.form is not None or route.files:
                self.multipart(ctx, request, route)
                check_ints(ctx.form)
            result = route.handler(ctx, **path_args)
            if isinstance(result, Response):
                return result
            status = route.status
            if isinstance(result, tuple):
                result, status = result
            return json_response(result, status)
        except (DomainError, ValidationError, HTTPException) as exc:
            return errmap.to_response(exc)
        except Exception as exc:  # ServiceUnavailable, RemoteError, bugs
            return errmap.to_response(exc)

    def json_body(self, request, route):
        limit = getattr(self.settings, route.max_body or "max_json_bytes")
        request.max_content_length = limit
        length = request.content_length
        if length is not None and length > limit:
            raise RequestEntityTooLarge()
        mimetype = request.mimetype or ""
        raw = request.get_data(cache=False)
        if not raw.strip():
            raw = b"{}"
        elif mimetype and not (mimetype == "application/json" or mimetype.endswith("+json")):
            raise DomainError(
                "unsupported_media_type",
                "Stuur de gegevens als JSON (Content-Type: application/json).",
                status=415,
            )
        too_deep = DomainError(
            "json_too_deep",
            f"De JSON is te diep genest (hoogstens {MAX_JSON_DEPTH} niveaus).",
            status=400,
        )
        try:
            data = json.loads(raw)
        except RecursionError:
            raise too_deep from None
        except (ValueError, UnicodeDecodeError):
            raise DomainError(
                "malformed_json", "De inhoud van het verzoek is geen geldige JSON.", status=400
            ) from None
        if not json_depth_ok(data):
            raise too_deep
        if not isinstance(data, dict):
            raise DomainError(
                "invalid_body", "De inhoud van het verzoek moet een JSON-object zijn.", status=400
            )
        return data

    def multipart(self, ctx, request, route):
        limit = getattr(self.settings, route.max_body or "max_upload_bytes")
        request.max_content_length = limit
        request.max_form_memory_size = 1024 * 1024
        length = request.content_length
        if length is not None and length > limit:
            raise DomainError(
                "file_too_large",
                f"Het bestand is te groot (maximaal {limit // (1024 * 1024)} MB).",
                status=413,
            )
        if request.mimetype != "multipart/form-data":
            raise DomainError(
                "multipart_required", "Stuur het bestand als multipart/form-data.", status=415
            )
        try:
            form = request.form.to_dict()
            files = request.files
        except RequestEntityTooLarge:
            raise DomainError(
                "file_too_large",
                f"Het bestand is te groot (maximaal {limit // (1024 * 1024)} MB).",
                status=413,
            ) from None
        if route.form is not None:
            ctx.form = schema(route.form).load(form)
        missing = [name for name in route.files if name not in files or not files[name].filename]
        if missing:
            raise DomainError(
                "required",
                f"Het veld '{missing[0]}' is verplicht: kies een bestand.",
                status=422,
                field=missing[0],
                errors=[
                    {"field": n, "code": "required", "message": f"Het veld '{n}' is verplicht."}
                    for n in missing
                ],
            )
        ctx.files = {name: files[name] for name in route.files}

    def openapi(self):
        """This API as OpenAPI 3.1 (the route table)."""
        return spec_dict()

    def authenticate(self, request):
        user_id, _, epoch = self.tokens.verify(bearer_token(request))
        principal = self.principals.get(user_id)
        if principal is None:
            try:
                principal = self.bus.call(
                    "users", "get_principal", user_id, timeout=self.settings.rpc_timeout
                )
            except DomainError as exc:
                if exc.status in (401, 404):
                    raise unauthorized() from None
                raise
            self.principals.put(user_id, principal)
        if epoch != principal.get("token_epoch"):  # the password changed since
            raise unauthorized()
        return principal


def create_app(settings, bus, files=None):
    return Gateway(settings, bus, files)
