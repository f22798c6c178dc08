"""OpenAPI 3.1 generated with apispec from the route table and its schemas."""
import functools

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls

from . import schemas as s
from .errors import TITLES
from .routing import ROUTES


def _schema_name(schema):
    cls = resolve_schema_cls(schema)
    return cls.__name__


@functools.lru_cache(maxsize=1)
def spec_dict():
    from . import routes  # noqa: F401

    spec = APISpec(
        title="Leerlingbus API", version="1.0.0", openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": "The HTTP contract of Leerlingbus (../shared/API.md)."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Problem", schema=s.Problem)
    paths = {}
    for r in ROUTES:
        op = {"summary": r.summary, "tags": [r.tag] if r.tag else [],
              "operationId": r.handler.__name__, "responses": {}}
        if r.auth:
            op["security"] = [{"bearer": []}]
        params = []
        for part in r.path.split("/"):
            if part.startswith("<"):
                conv, _, name = part[1:-1].rpartition(":")
                params.append({"in": "path", "name": name, "required": True,
                               "schema": {"type": "integer" if conv == "int" else "string"}})
        if r.query is not None:
            params.append({"in": "query", "schema": r.query})
        if params:
            op["parameters"] = params
        if (r.body or r.body_doc) is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": r.body or r.body_doc}}}
        if r.form is not None or r.files:
            props = {name: {"type": "string", "format": "binary"} for name in r.files}
            spec.components.schema(r.handler.__name__ + "Form", schema=r.form) \
                if r.form is not None and r.handler.__name__ + "Form" not in \
                spec.components.schemas else None
            schema = {"type": "object", "properties": props, "required": list(r.files)}
            if r.form is not None:
                schema = {"allOf": [{"$ref": f"#/components/schemas/{r.handler.__name__}Form"},
                                    schema]}
            op["requestBody"] = {"required": True,
                                 "content": {"multipart/form-data": {"schema": schema}}}
        ok = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": r.response}}
        op["responses"][str(r.status)] = ok
        op["responses"].update(r.extra.get("responses") or {})
        for code in r.errors:
            op["responses"][str(code)] = {
                "description": TITLES.get(code, "Fout"),
                "content": {"application/problem+json": {"schema": "Problem"}}}
        if r.auth:
            op["responses"].setdefault("401", {
                "description": TITLES[401],
                "content": {"application/problem+json": {"schema": "Problem"}}})
        paths.setdefault(r.openapi_path, {})[r.method.lower()] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
