"""OpenAPI 3.1 generated with apispec from the route table and its schemas.

Every answer a route can give is described (tests/gateway/test_openapi_fuzz.py
runs schemathesis against the document): besides the route's own statuses,
what the gateway itself answers for any route of that shape (400 malformed
request, 401 without token, 403 for a role, 404 for a path naming nothing,
413/415 for a body, 422 for invalid input, 503 when a service does not
answer). Multipart bodies are one plain object schema (fields and files).
"""

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls

from . import schemas as s
from .errors import TITLES
from .routing import ROUTES


def _schema_name(schema):
    cls: Any = resolve_schema_cls(schema)
    return cls.__name__


def answers(r):
    """The error statuses a route can answer: its own plus the gateway's."""
    codes = set(r.errors) | {400}
    if r.auth:
        codes.add(401)
    if r.roles:
        codes.add(403)
    if "<" in r.path:
        codes.add(404)
    if (
        r.query is not None
        or r.body is not None
        or r.body_doc is not None
        or r.form is not None
        or r.files
    ):
        codes.add(422)
    if r.body is not None or r.body_doc is not None or r.form is not None or r.files:
        codes.update((413, 415))
    if not r.path.startswith("/openapi"):
        codes.add(503)  # a service that does not answer in time
    return codes


def _multipart_schema(plugin, r):
    """One object schema: the form's fields (as the JSON Schema marshmallow
    gives) and the files (binary strings)."""
    schema: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    if r.form is not None:
        form = plugin.converter.schema2jsonschema(r.form)
        schema["properties"].update(form.get("properties", {}))
        schema["required"].extend(form.get("required", []))
        schema["additionalProperties"] = False
    for name in r.files:
        schema["properties"][name] = {"type": "string", "format": "binary"}
        schema["required"].append(name)
    return schema


@functools.lru_cache(maxsize=1)
def spec_dict():
    from . import routes  # noqa: F401

    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="Leerlingbus API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={
            "description": "The HTTP API of Leerlingbus; a guide is docs/api.md in the repository."
        },
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Problem", schema=s.Problem)
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag] if r.tag else [],
            "operationId": r.handler.__name__,
            "responses": {},
        }
        if r.auth:
            op["security"] = [{"bearer": []}]
        params: list[dict[str, Any]] = []
        for part in r.path.split("/"):
            if part.startswith("<"):
                conv, _, name = part[1:-1].rpartition(":")
                params.append(
                    {
                        "in": "path",
                        "name": name,
                        "required": True,
                        "schema": {"type": "integer" if conv == "int" else "string"},
                    }
                )
        if r.query is not None:
            params.append({"in": "query", "schema": r.query})
        if params:
            op["parameters"] = params
        if (r.body or r.body_doc) is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": r.body or r.body_doc}},
            }
        if r.form is not None or r.files:
            op["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": _multipart_schema(plugin, r)}},
            }
        ok: dict[str, Any] = {"description": "OK" if r.status != 204 else "Gedaan; geen inhoud"}
        if r.response is not None and r.status != 204:
            ok["content"] = {"application/json": {"schema": r.response}}
        op["responses"][str(r.status)] = ok
        op["responses"].update(r.extra.get("responses") or {})
        for code in sorted(answers(r)):
            op["responses"][str(code)] = {
                "description": TITLES.get(code, "Fout"),
                "content": {"application/problem+json": {"schema": "Problem"}},
            }
        paths.setdefault(r.openapi_path, {})[r.method.lower()] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
