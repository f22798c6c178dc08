"""Gateway pieces without a broker: tokens, error mapping, schemas, OpenAPI."""
import json
import time

import jwt
import pytest
from marshmallow import ValidationError

from gateway import schemas as s
from gateway.auth import TokenService
from gateway.bus import ServiceUnavailable
from gateway.errors import to_response
from services.common.errors import DomainError, validation_error, error_item


def body(response):
    assert response.content_type.startswith("application/problem+json")
    return json.loads(response.get_data())


def test_domain_error_survives_serialisation_roundtrip():
    from nameko.exceptions import deserialize, serialize
    exc = validation_error([error_item("student_number_not_digits", "Alleen cijfers.", field="code",
                                       row=3)])
    back = deserialize(serialize(exc))
    assert isinstance(back, DomainError)
    assert back.code == "student_number_not_digits"
    assert back.status == 422
    assert back.errors == [{"code": "student_number_not_digits", "message": "Alleen cijfers.",
                            "field": "code", "row": 3}]


def test_domain_error_becomes_problem_json():
    r = to_response(DomainError("user_exists", "Bestaat al.", status=409, field="code"))
    assert r.status_code == 409
    b = body(r)
    assert b["code"] == "user_exists" and b["detail"] == "Bestaat al." and b["status"] == 409
    assert b["errors"][0]["field"] == "code"


def test_too_many_attempts_has_retry_after():
    r = to_response(DomainError("too_many_attempts", "Wacht even.", status=429,
                                extra={"retry_after": 8}))
    assert r.status_code == 429 and r.headers["Retry-After"] == "8"


def test_unavailable_names_the_service():
    r = to_response(ServiceUnavailable("users", "timeout"))
    b = body(r)
    assert r.status_code == 503 and b["service"] == "users" and "gebruikers" in b["detail"]


def test_unknown_field_is_named_in_dutch():
    with pytest.raises(ValidationError) as info:
        s.UserCreate().load({"code": "1", "first_name": "A", "last_name": "B", "shoe_size": 4})
    b = body(to_response(info.value))
    assert b["status"] == 422 and b["code"] == "unknown_field"
    assert b["errors"] == [{"field": "shoe_size", "code": "unknown_field",
                            "message": "Het veld 'shoe_size' is onbekend."}]


def test_missing_and_bad_choice_are_listed_together():
    with pytest.raises(ValidationError) as info:
        s.InstitutionCreate().load({"name": "X", "school_type": "hbo"})
    b = body(to_response(info.value))
    codes = {(e["field"], e["code"]) for e in b["errors"]}
    assert codes == {("brin", "required"), ("school_type", "choice_invalid")}


def test_unexpected_error_is_a_bare_500():
    b = body(to_response(RuntimeError("secret detail 123456782")))
    assert b["status"] == 500 and "123456782" not in json.dumps(b)


def test_tokens_expire_and_reject_tampering():
    tokens = TokenService("k" * 40, ttl=60)
    token = tokens.issue({"user_id": 7, "institution_id": 3, "token_epoch": "e1"})
    assert tokens.verify(token) == (7, 3, "e1")
    with pytest.raises(DomainError) as info:
        TokenService("other" * 10, 60).verify(token)
    assert info.value.status == 401
    expired = jwt.encode({"sub": "7", "inst": 3, "iat": int(time.time()) - 100,
                          "exp": int(time.time()) - 10}, "k" * 40, algorithm="HS256")
    with pytest.raises(DomainError) as info:
        tokens.verify(expired)
    assert info.value.code == "token_expired"
    none_alg = jwt.encode({"sub": "7", "iat": 1, "exp": int(time.time()) + 100}, None,
                          algorithm="none")
    with pytest.raises(DomainError):
        tokens.verify(none_alg)


def test_a_verified_token_is_kept_but_still_expires(monkeypatch):
    tokens = TokenService("k" * 40, ttl=1)
    token = tokens.issue({"user_id": 7, "institution_id": 3, "token_epoch": "e1"})
    assert tokens.verify(token) == (7, 3, "e1")
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: pytest.fail("verified again"))
    assert tokens.verify(token) == (7, 3, "e1")  # kept: no second signature check
    monkeypatch.undo()
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(DomainError) as info:
        tokens.verify(token)
    assert info.value.code == "token_expired"
    assert token not in tokens._verified


def test_the_verified_tokens_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(TokenService, "MAX_CACHED", 3)
    tokens = TokenService("k" * 40, ttl=60)
    issued = [tokens.issue({"user_id": n, "institution_id": 3, "token_epoch": "e"})
              for n in range(5)]
    for n, token in enumerate(issued):
        assert tokens.verify(token)[0] == n
        assert len(tokens._verified) <= 3


def test_openapi_is_31_and_covers_the_routes():
    from gateway.openapi import spec_dict
    spec = spec_dict()
    assert spec["openapi"].startswith("3.1")
    for path in ("/api/v1/auth/token", "/api/v1/me", "/api/v1/institutions",
                 "/api/v1/institutions/{institution_id}", "/api/v1/users",
                 "/api/v1/users/{code}", "/api/v1/users/{code}/archive",
                 "/api/v1/users/{code}/unarchive", "/health", "/openapi.json"):
        assert path in spec["paths"], path
    create = spec["paths"]["/api/v1/users"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    props = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"code", "is_student", "roles", "postcode"} <= set(props)
    assert "422" in create["responses"] and "409" in create["responses"]


def test_openapi_documents_participations_by_student():
    from gateway.openapi import spec_dict
    spec = spec_dict()
    by_student = spec["paths"]["/api/v1/students/{student_number}/participations"]["get"]
    ref = by_student["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"items", "total", "page", "page_size"} <= set(page["properties"])
    item_ref = page["properties"]["items"]["items"]["$ref"]
    item = spec["components"]["schemas"][item_ref.rsplit("/", 1)[1]]["properties"]
    assert {"school_year", "project_id", "department", "forecast", "project_name"} <= set(item)
    assert {p["name"] for p in by_student["parameters"]} >= {"student_number", "page",
                                                            "page_size"}
    of_project = spec["paths"]["/api/v1/projects/{project_id}/participations"]["get"]
    assert "student_number" in {p["name"] for p in of_project["parameters"]}


def test_access_log_never_shows_a_bsn():
    from gateway.app import loggable_path
    assert loggable_path("/api/v1/oso/students/123456782") == "/api/v1/oso/students/*********"
    assert loggable_path("/api/v1/users/123456") == "/api/v1/users/123456"


def test_a_request_leaves_no_reference_cycle_in_its_environ():
    """The collector seldom runs when requests make no cycles (services/common/gctune.py):
    eventlet's set_idle ties the environ to its connection, and werkzeug's request may
    put itself into its environ."""
    import gc

    from werkzeug.test import EnvironBuilder

    from gateway.app import create_app
    from gateway.settings import Settings

    app = create_app(Settings(amqp_uri="amqp://unused", secret_key="unit-test-key-" + "x" * 32),
                     bus=None, files=object())
    environ = EnvironBuilder(path="/api/v1/users/123456", method="GET").get_environ()
    environ["eventlet.set_idle"] = lambda: None
    statuses = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses == ["401 UNAUTHORIZED"] and b"not_authenticated" in body
    assert "eventlet.set_idle" not in environ and "werkzeug.request" not in environ
    assert not gc.get_referrers(environ)  # nothing of the request holds its environ
