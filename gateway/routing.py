"""The route table: one entry per endpoint, used both to dispatch and to
generate the OpenAPI document (gateway/openapi.py). Route modules import
`route` from here; it imports no other gateway module but the settings.

Options that vary per deployment name a field of gateway.settings.Settings,
resolved per request: `max_body="sync_snapshot_max_bytes"`,
`deadline="sync_deadline"` (the route's RPC calls get that deadline, after a
quick health probe so a service that is down still answers 503 at once).
"""

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
