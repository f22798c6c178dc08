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


def rows_error(errors, row_status):
    """One DomainError listing every bad row (sorted by row): 422 when any row is
    invalid, else 409 (duplicates), else 404 (unknown references); `row_status`
    maps an item code to its status (422 when not named)."""
    errors = sorted(errors, key=lambda e: e.get("row") or 0)
    statuses = {row_status.get(e["code"], 422) for e in errors}
    status = next(s for s in (422, 409, 404) if s in statuses)
    lead = next(e for e in errors if row_status.get(e["code"], 422) == status)
    if len(errors) == 1:
        text = lead["message"]
    else:
        bad_rows = len({e.get("row") for e in errors})
        text = f"{bad_rows} rij(en) bevatten fouten; er is niets opgeslagen."
    return DomainError(lead["code"], text, status=status, field=lead.get("field"), errors=errors)


class FieldItems:
    """The error items of a form field, named by one service's Dutch labels."""

    def __init__(self, labels):
        self.labels = labels

    def label(self, field):
        return self.labels.get(field, field)

    def required(self, field):
        return error_item("required", f"{self.label(field)} is verplicht.", field=field)

    def value_invalid(self, field):
        return error_item(
            "value_invalid", f"{self.label(field)} heeft geen geldige waarde.", field=field
        )

    def too_long(self, field, limit):
        return error_item(
            "too_long", f"{self.label(field)} is te lang (hoogstens {limit} tekens).", field=field
        )


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
