"""The route table: one entry per endpoint, used both to dispatch and to
generate the OpenAPI document (gateway/openapi.py). Route modules import
`route` from here; it imports no other gateway module but the settings.

Route modules declare their endpoints through a `Routes` of their own, which
carries the OpenAPI tag and the roles most of its endpoints need; an
endpoint's summary is the first paragraph of its handler's docstring.

Options that vary per deployment name a field of gateway.settings.Settings,
resolved per request: `max_body="sync_snapshot_max_bytes"`,
`deadline="sync_deadline"` (the route's RPC calls get that deadline, after a
quick health probe so a service that is down still answers 503 at once).
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from .settings import Settings

API = "/api/v1"


@dataclass(eq=False)
class Route:
    method: str
    path: str  # werkzeug syntax, e.g. /api/v1/users/<code>
    handler: Callable[..., Any]
    summary: str = ""
    tag: str = ""
    auth: bool = True
    roles: tuple = ()  # empty: any authenticated user
    body: Any = None  # marshmallow schema class for a JSON body
    body_doc: Any = None  # a JSON body the service validates: documented, parsed, not loaded
    form: Any = None  # schema class for multipart/form-data fields (files apart)
    files: tuple[str, ...] = ()  # names of the multipart file fields, all required
    max_body: str | None = None  # Settings field: byte limit of the body (default per kind)
    deadline: str | None = None  # Settings field: deadline (s) of this route's RPC calls
    query: Any = None  # marshmallow schema class for the query string
    response: Any = None  # schema class (or (class, many)) for the success body
    status: int = 200
    errors: tuple[int, ...] = (400, 401, 403, 404, 422)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def openapi_path(self) -> str:
        out = []
        for part in self.path.split("/"):
            if part.startswith("<") and part.endswith(">"):
                part = "{" + part[1:-1].split(":")[-1] + "}"
            out.append(part)
        return "/".join(out)


ROUTES: list[Route] = []

ANYONE: tuple = ()  # roles: any authenticated user
READ = (400, 401, 403, 404, 422)  # the default error statuses
WRITE = (400, 401, 403, 404, 409, 422)
CREATE = (400, 401, 403, 409, 422)  # a create whose path names no parent
UPLOAD = (400, 401, 403, 404, 413, 415, 422)  # a POST with a file: too large, wrong type


SETTING_OPTIONS = ("max_body", "deadline")


def route(
    method: str, path: str, **meta: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    known = {f.name for f in fields(Settings)}
    for option in SETTING_OPTIONS:
        if meta.get(option) is not None and meta[option] not in known:
            raise ValueError(f"{option}={meta[option]!r} names no field of Settings")

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        full = path if path.startswith(("/health", "/openapi")) else API + path
        ROUTES.append(Route(method=method, path=full, handler=fn, **meta))
        return fn

    return register


def summary_of(fn: Callable[..., Any]) -> str:
    """The first paragraph of a handler's docstring, on one line."""
    doc = inspect.cleandoc(fn.__doc__ or "")
    return " ".join(doc.split("\n\n", 1)[0].split())


class Routes:
    """The endpoints of one route module: `@api.get(path, **options)`, with the
    module's tag and default roles; `roles=ANYONE` opens one to any caller."""

    def __init__(self, tag: str, roles: tuple = ANYONE) -> None:
        self.tag = tag
        self.roles = roles

    def add(self, method: str, path: str, **meta: Any) -> Callable[..., Any]:
        meta.setdefault("tag", self.tag)
        meta.setdefault("roles", self.roles)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            return route(method, path, summary=meta.pop("summary", summary_of(fn)), **meta)(fn)

        return register

    def get(self, path: str, **meta: Any) -> Callable[..., Any]:
        return self.add("GET", path, **meta)

    def post(self, path: str, **meta: Any) -> Callable[..., Any]:
        return self.add("POST", path, **meta)

    def create(self, path: str, **meta: Any) -> Callable[..., Any]:
        """POST that creates: 201; 409 among its errors, 404 when the path names
        a parent."""
        meta.setdefault("status", 201)
        meta.setdefault("errors", WRITE if "<" in path else CREATE)
        return self.add("POST", path, **meta)

    def upload(self, path: str, **meta: Any) -> Callable[..., Any]:
        """POST of a multipart form with one file, `file`."""
        meta.setdefault("files", ("file",))
        meta.setdefault("errors", UPLOAD)
        return self.add("POST", path, **meta)

    def put(self, path: str, **meta: Any) -> Callable[..., Any]:
        return self.add("PUT", path, **meta)

    def patch(self, path: str, **meta: Any) -> Callable[..., Any]:
        return self.add("PATCH", path, **meta)

    def delete(self, path: str, **meta: Any) -> Callable[..., Any]:
        return self.add("DELETE", path, **meta)
