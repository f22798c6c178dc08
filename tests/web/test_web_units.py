"""The web process's own rules, without a browser: the signed cookie, CSRF
tokens, the session store, redirect targets, dates, where API refusals go and
how a form or a button takes them."""
import datetime as dt
import json
import os
import stat

import pytest

from web.app import local_path
from web.client import ApiError
from web.filters import date_nl, datetime_nl, parse_date_nl
from web.forms import Form, act
from web.sessions import ANONYMOUS, SESSION, FileSessionStore, Signer, new_id


def test_cookie_is_signed_and_tampering_is_refused():
    signer = Signer("sleutel-1")
    sid = new_id()
    value = signer.cookie(SESSION, sid)
    assert signer.parse(value) == (SESSION, sid)
    kind, rest = value.split(".", 1)
    assert signer.parse("a." + rest) is None  # upgrading an anonymous cookie fails
    assert signer.parse(value[:-1] + ("0" if value[-1] != "0" else "1")) is None
    assert Signer("sleutel-2").parse(value) is None
    for junk in (None, "", "s.x", "s.a.b.c", "x." + rest):
        assert signer.parse(junk) is None


def test_csrf_token_belongs_to_one_session():
    signer = Signer("sleutel")
    one, two = new_id(), new_id()
    token = signer.csrf_token(one)
    assert signer.check_csrf(one, token)
    assert not signer.check_csrf(two, token)
    assert not signer.check_csrf(one, None) and not signer.check_csrf(one, "")
    assert token not in signer.cookie(ANONYMOUS, one)


def test_session_store_files(tmp_path):
    store = FileSessionStore(tmp_path / "sessions")
    assert stat.S_IMODE(os.stat(tmp_path / "sessions").st_mode) == 0o700
    sid = new_id()
    store.save(sid, {"token": "geheim", "expires_at": 4102444800})
    [path] = list((tmp_path / "sessions").iterdir())
    assert sid not in path.name  # a directory listing gives no cookie
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load(sid)["token"] == "geheim"
    # another replica with the same directory reads the same session
    assert FileSessionStore(tmp_path / "sessions").load(sid)["token"] == "geheim"
    store.delete(sid)
    assert store.load(sid) is None


def test_expired_sessions_are_gone(tmp_path):
    store = FileSessionStore(tmp_path)
    old, new = new_id(), new_id()
    store.save(old, {"expires_at": 1})
    store.save(new, {"expires_at": 4102444800})
    assert store.sweep() == 1
    assert store.load(old) is None and store.load(new) is not None
    store.save(old, {"expires_at": 1})
    assert store.load(old) is None  # expired on read too
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("target, expected", [
    ("/leerlingen?q=Berg", "/leerlingen?q=Berg"), ("/", "/"),
    ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil", "/"),
    ("leerlingen", "/"), (None, "/"), ("/a\nb", "/"),
])
def test_only_local_redirects(target, expected):
    assert local_path(target) == expected


def test_dates_read_dutch():
    assert date_nl("2026-07-31") == "31-07-2026"
    # a timestamp is shown on its day and hour in Amsterdam
    assert date_nl("2026-07-31T23:30:00+00:00") == "01-08-2026"
    assert datetime_nl("2026-01-05T09:07:00+00:00") == "05-01-2026 10:07"
    assert date_nl(None) == "" and date_nl("onzin") == "onzin"
    assert parse_date_nl("1-8-2026") == dt.date(2026, 8, 1)
    assert parse_date_nl("01/08/2026") == parse_date_nl("2026-08-01") == dt.date(2026, 8, 1)
    assert parse_date_nl("") is None
    for bad in ("31-13-2026", "1-8-26", "morgen", "1-8"):
        with pytest.raises(ValueError):
            parse_date_nl(bad)


def test_api_refusals_go_beside_their_fields():
    exc = ApiError(422, {"code": "validation_failed", "detail": "Ongeldige invoer.", "errors": [
        {"field": "bsn", "code": "bsn_invalid", "message": "Het BSN is niet geldig."},
        {"field": "internal", "code": "x", "message": "Iets anders."}]})
    form = Form(values={"bsn": "123"}).from_api(exc, ("bsn", "first_name"))
    assert form.error("bsn") == ["Het BSN is niet geldig."]
    assert form.general == ["Iets anders."]
    # a problem with one field and no list
    single = ApiError(409, {"code": "conflict", "detail": "Bestaat al.", "field": "brin"})
    assert Form().from_api(single, ("brin",)).error("brin") == ["Bestaat al."]
    other = Form().from_api(ApiError(409, {"detail": "Bezet."}), ("brin",))
    assert other.general == ["Bezet."] and not other.errors
    json.dumps(form.errors)


def test_typed_values_are_stripped_and_only_those_named():
    form = Form.typed({"name": "  Rooster ", "other": "x"}, ("name", "branch"))
    assert form.values == {"name": "Rooster", "branch": ""}


def test_a_form_sends_once_and_keeps_the_refusals_status():
    calls = []

    def answer():
        calls.append(1)
        return {"id": 7}

    assert Form().submit(answer) == {"id": 7} and len(calls) == 1
    typed_wrong = Form()
    typed_wrong.add("forecast", "Vul een getal in.")
    assert typed_wrong.submit(answer) is None and len(calls) == 1  # never sent
    assert typed_wrong.status == 422

    def conflict():
        raise ApiError(409, {"detail": "Bestaat al.", "field": "code"})

    form = Form()
    assert form.submit(conflict, ("code",)) is None
    assert form.status == 409 and form.error("code") == ["Bestaat al."]

    def gone():
        raise ApiError(503, {"detail": "Niet bereikbaar."})

    with pytest.raises(ApiError):  # not a refusal of the form: the error page says it
        Form().submit(gone, ("code",))
    with pytest.raises(ApiError):
        Form().submit(conflict, ("code",), refusals=(400, 422))


class _Ctx:
    def __init__(self):
        self.flashes = []

    def flash(self, message, kind="success"):
        self.flashes.append((kind, message))

    def redirect(self, location):
        return location


def test_a_button_says_what_happened_or_the_refusal():
    ctx = _Ctx()
    assert act(ctx, lambda: None, "Gedaan.", "/terug") == "/terug"

    def refused():
        raise ApiError(409, {"detail": "Kan niet."})

    assert act(ctx, refused, "Gedaan.", "/terug") == "/terug"
    assert ctx.flashes == [("success", "Gedaan."), ("error", "Kan niet.")]
    with pytest.raises(ApiError):
        act(ctx, refused, "Gedaan.", "/terug", refusals=(422,))
