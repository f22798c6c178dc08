"""The route table: one entry per endpoint, used both to dispatch and to
generate the OpenAPI document (gateway/openapi.py)."""

from dataclasses import dataclass, field

API = "/api/v1"


@dataclass(eq=False)
class Route:
    method: str
    path: str  # werkzeug syntax, e.g. /api/v1/users/<code>
    handler: object
    summary: str = ""
    tag: str = ""
    auth: bool = True
    roles: tuple = ()  # empty: any authenticated user
    body: object = None  # marshmallow schema class for a JSON body
    body_doc: object = None  # a JSON body the service validates: documented, parsed, not loaded
    form: object = None  # schema class for multipart/form-data fields (files apart)
    files: tuple = ()  # names of the multipart file fields, all required
    max_body: int | None = None  # byte limit of the body; default settings.max_json_bytes
    query: object = None  # marshmallow schema class for the query string
    response: object = None  # schema class (or (class, many)) for the success body
    status: int = 200
    errors: tuple = (400, 401, 403, 404, 422)
    extra: dict = field(default_factory=dict)

    @property
    def openapi_path(self):
        out = []
        for part in self.path.split("/"):
            if part.startswith("<") and part.endswith(">"):
                part = "{" + part[1:-1].split(":")[-1] + "}"
            out.append(part)
        return "/".join(out)


ROUTES: list[Route] = []


def route(method, path, **meta):
    def register(fn):
        full = path if path.startswith("/health") or path.startswith("/openapi") else API + path
        ROUTES.append(Route(method=method, path=full, handler=fn, **meta))
        return fn

    return register
