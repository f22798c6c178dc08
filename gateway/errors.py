"""Every error the gateway answers with, as application/problem+json (RFC 9457).

The one place where remote errors become HTTP: DomainError (crossed RPC
intact), ServiceUnavailable (deadline / service not running), marshmallow
validation errors, werkzeug's HTTP errors. Anything else is a 500 with no
details, logged.
"""

import json
import logging

from marshmallow import ValidationError
from nameko.exceptions import RemoteError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.common.errors import DomainError
from services.common.rpc import SERVICE_NAMES_NL

from .bus import ServiceUnavailable

log = logging.getLogger(__name__)

TITLES = {
    400: "Ongeldig verzoek",
    401: "Niet aangemeld",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Methode niet toegestaan",
    409: "Conflict",
    413: "Te groot",
    415: "Verkeerd bestandstype",
    422: "Ongeldige invoer",
    429: "Te veel pogingen",
    500: "Interne fout",
    503: "Dienst niet beschikbaar",
}

# Stable codes for marshmallow's messages (set in schemas.BaseSchema) → Dutch text.
FIELD_MESSAGES = {
    "required": "Het veld '{field}' is verplicht.",
    "null_not_allowed": "Het veld '{field}' mag niet leeg zijn.",
    "unknown_field": "Het veld '{field}' is onbekend.",
    "invalid_type": "Het veld '{field}' heeft een ongeldige waarde.",
    "invalid": "Het veld '{field}' heeft een ongeldige waarde.",
    "choice_invalid": "Het veld '{field}' heeft een waarde die niet is toegestaan.",
    "choice_invalid_listed": "Het veld '{field}' moet een van deze waarden zijn: {choices}.",
    "length_invalid": "Het veld '{field}' is te lang of te kort.",
    "range_invalid": "Het veld '{field}' valt buiten het toegestane bereik.",
    "invalid_body": "De inhoud van het verzoek moet een JSON-object zijn.",
}


def problem(status, code, detail, errors=None, headers=None, **extra):
    body = {
        "type": f"https://leerlingbus.nl/problems/{code}",
        "title": TITLES.get(status, "Fout"),
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }
    body.update(extra)
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers or {},
        content_type="application/problem+json; charset=utf-8",
    )


def _flatten(messages, prefix=""):
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "body"
            yield from _flatten(value, name)
    elif isinstance(messages, (list, tuple)):
        for value in messages:
            if isinstance(value, (dict, list, tuple)):
                yield from _flatten(value, prefix)
            else:
                yield prefix, str(value)
    else:
        yield prefix, str(messages)


def sentences(messages):
    """Several messages as one text of sentences ("A is verplicht. B is te lang.")."""
    out = []
    for text in messages:
        text = text.strip()
        if text and text[-1] not in ".!?":
            text += "."
        out.append(text)
    return " ".join(out)


def validation_problem(exc: ValidationError):
    errors = []
    for field, code in _flatten(exc.messages):
        key, _, choices = code.partition(":")
        if key == "choice_invalid" and choices:
            errors.append(
                {
                    "field": field,
                    "code": key,
                    "message": FIELD_MESSAGES["choice_invalid_listed"].format(
                        field=field, choices=choices
                    ),
                }
            )
            continue
        if code not in FIELD_MESSAGES:
            code = "invalid"
        errors.append(
            {"field": field, "code": code, "message": FIELD_MESSAGES[code].format(field=field)}
        )
    first = errors[0] if errors else {"code": "invalid", "message": "Ongeldige invoer."}
    detail = (
        first["message"]
        if len(errors) == 1
        else "De invoer is niet geldig. " + sentences(e["message"] for e in errors)
    )
    return problem(422, first["code"], detail, errors)


def to_response(exc):
    if isinstance(exc, DomainError):
        headers = {}
        if exc.status == 429 and exc.extra.get("retry_after"):
            headers["Retry-After"] = str(int(exc.extra["retry_after"]))
        errors = exc.errors or (
            [{"field": exc.field, "code": exc.code, "message": exc.message}] if exc.field else []
        )
        return problem(exc.status, exc.code, exc.message, errors, headers)
    if isinstance(exc, ServiceUnavailable):
        name = SERVICE_NAMES_NL.get(exc.service, exc.service)
        return problem(
            503,
            "service_unavailable",
            f"De dienst '{name}' is tijdelijk niet bereikbaar. Probeer het later opnieuw.",
            headers={"Retry-After": "5"},
            service=exc.service,
        )
    if isinstance(exc, ValidationError):
        return validation_problem(exc)
    if isinstance(exc, RequestEntityTooLarge):
        return problem(413, "body_too_large", "Het verzoek is te groot.")
    if isinstance(exc, HTTPException):
        codes = {
            400: ("bad_request", "Het verzoek is ongeldig."),
            404: ("route_not_found", "Deze pagina of dit adres bestaat niet."),
            405: ("method_not_allowed", "Deze methode is hier niet toegestaan."),
        }
        status = exc.code or 500
        code, message = codes.get(status, ("http_error", exc.description or "Fout."))
        return problem(status, code, message)
    if isinstance(exc, RemoteError):
        log.error("unexpected remote error %s", exc.exc_type)
    else:
        log.exception("unexpected error in gateway")
    return problem(
        500, "internal_error", "Er ging iets mis aan onze kant. Probeer het later opnieuw."
    )
