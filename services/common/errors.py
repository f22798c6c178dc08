"""Domain errors that cross RPC intact.

A DomainError carries a stable machine code, a Dutch message for the school
user, an HTTP-ish status the gateway uses, and optionally the field and a list
of per-row errors ({field, row, column, code, message}). nameko serialises
exception args; we pack the payload as one JSON string so integers and None
survive, and register the class so the caller gets a DomainError back instead
of a RemoteError.
"""

import json

from nameko.exceptions import deserialize_to_instance

_MARK = "__domain_error__"


@deserialize_to_instance
class DomainError(Exception):
    def __init__(self, code, message="", status=422, field=None, errors=None, extra=None):
        if message == "" and isinstance(code, str) and code.startswith("{") and _MARK in code:
            payload = json.loads(code)
        else:
            payload = {
                _MARK: 1,
                "code": code,
                "message": message,
                "status": int(status),
                "field": field,
                "errors": list(errors or []),
                "extra": extra or {},
            }
        self.payload = payload
        super().__init__(json.dumps(payload, default=str))

    code = property(lambda self: self.payload["code"])
    message = property(lambda self: self.payload["message"])
    status = property(lambda self: self.payload["status"])
    field = property(lambda self: self.payload["field"])
    errors = property(lambda self: self.payload["errors"])
    extra = property(lambda self: self.payload["extra"])

    def __str__(self):
        return f"{self.code}: {self.message}"

    def __repr__(self):
        return f"DomainError({self.code!r}, {self.message!r}, status={self.status})"


def error_item(code, message, field=None, row=None, column=None):
    item = {"code": code, "message": message}
    if field is not None:
        item["field"] = field
    if row is not None:
        item["row"] = row
    if column is not None:
        item["column"] = column
    return item


def validation_error(errors, message="De invoer is niet geldig."):
    """One 422 carrying every field error; the first one's code leads."""
    errors = list(errors)
    first = errors[0]
    if len(errors) == 1:
        message = first["message"]
    return DomainError(first["code"], message, status=422, field=first.get("field"), errors=errors)


def not_found(what="record", message="Niet gevonden."):
    return DomainError("not_found", message, status=404, extra={"what": what})


def conflict(code, message, field=None):
    return DomainError(
        code, message, status=409, field=field, errors=[error_item(code, message, field=field)]
    )


def forbidden(message="Dit mag u niet doen met uw rol."):
    return DomainError("forbidden", message, status=403)
