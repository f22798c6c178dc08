"""Use cases of the users service on a real, migrated database (make_db)."""
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.common.db import make_engine
from services.common.errors import DomainError
from services.users import account_changes, account_queries, accounts, auth, institutions
from services.users.models import login_throttle, metadata, outbox, users

PASSWORD = "een goed wachtwoord"


def events(users_db, event_type=None):
    """Outbox envelopes of one type, or of every user_* type."""
    _url, session_factory = users_db.url, users_db.session_factory
    with session_factory() as session:
        query = sa.select(outbox.c.body).order_by(outbox.c.id)
        if event_type:
            query = query.where(outbox.c.event_type == event_type)
        else:
            query = query.where(outbox.c.event_type.like("user_%"))
        return [json.loads(body) for (body,) in session.execute(query)]


def count_users(users_db):
    with users_db.session_factory() as session:
        return session.execute(sa.select(sa.func.count()).select_from(users)).scalar_one()


def student(code, **kw):
    data = {"code": code, "is_student": True, "first_name": "Leerling",
            "last_name": f"Nummer {code}"}
    data.update(kw)
    return data


def test_migration_matches_models(users_db):
    url = users_db.url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrate_command(tmp_path):
    env = dict(os.environ, LEERLINGBUS_DATA_DIR=str(tmp_path), PYTHONWARNINGS="ignore")
    env.pop("USERS_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "services.common.migrate", "users"],
                            cwd=Path(__file__).resolve().parents[2], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "migrated users" in result.stdout
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'users.sqlite3'}")
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"institutions", "users", "login_throttle", "outbox", "processed_events"} <= tables


# --- institutions ------------------------------------------------------------------

def test_create_get_and_list_institutions(uow, users_db):
    with uow() as u:
        created = institutions.create_institution(
            u, {"name": "Vakcollege", "brin": "12ab03", "school_type": "MBO"})
    assert created["brin"] == "12AB03" and created["branch"] == "03"
    assert created["school_type"] == "mbo"
    assert created["created_at"].endswith("+00:00")
    with uow() as u:
        assert institutions.get_institution(u, created["id"]) == created
        assert institutions.get_institution(u, str(created["id"])) == created
        institutions.ensure_platform(u)
    with uow() as u:
        listed = institutions.list_institutions(u)
    assert listed["total"] == 1 and listed["items"] == [created]  # platform is not listed
    assert events(users_db, "institution_created")[0]["data"]["brin"] == "12AB03"


def test_duplicate_brin_conflicts(uow, institution):
    with uow() as u, pytest.raises(DomainError) as exc:
        institutions.create_institution(u, {"name": "Ander", "brin": "05kq", "school_type": "vo"})
    assert (exc.value.code, exc.value.status) == ("institution_exists", 409)


def test_unknown_institution_is_not_found(uow):
    for bad in (999, "abc", None):
        with uow() as u, pytest.raises(DomainError) as exc:
            institutions.get_institution(u, bad)
        assert (exc.value.code, exc.value.status) == ("not_found", 404)
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_user(u, 999, student("1"))
    assert exc.value.status == 404


# --- creating users -------------------------------------------------------------------

def test_create_user_returns_record_and_writes_event(uow, institution, users_db):
    with uow() as u:
        user = accounts.create_user(u, institution["id"], student(
            "20355889", prefix="van", postcode="1234ab", email="A@B.nl", password=PASSWORD))
    assert user["is_student"] is True and user["type"] == "student"
    assert user["roles"] == ["student"] and user["archived"] is False
    assert user["postcode"] == "1234 AB"
    assert "password_hash" not in user and "password" not in user
    (event,) = events(users_db, "user_created")
    assert set(event) == {"event_id", "type", "version", "occurred_at", "institution_id", "data"}
    assert event["institution_id"] == institution["id"]
    assert event["data"] == {
        "user_id": user["id"], "code": "20355889", "type": "student", "roles": ["student"],
        "initials": None, "first_name": "Leerling", "prefix": "van",
        "last_name": "Nummer 20355889", "email": "A@b.nl"}
    with users_db.session_factory() as session:
        stored = session.execute(sa.select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_create_user_validation_error_has_every_field(uow, institution, users_db):
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_user(u, institution["id"], {"code": "A1", "is_student": True,
                                               "email": "x@", "last_name": "Jong"})
    err = exc.value
    assert err.status == 422
    assert {(e["field"], e["code"]) for e in err.errors} == {
        ("code", "student_number_not_digits"), ("first_name", "required"),
        ("email", "email_invalid")}
    assert all("row" not in e for e in err.errors)
    assert count_users(users_db) == 0 and events(users_db) == []


def test_duplicate_code_conflicts(uow, institution):
    with uow() as u:
        accounts.create_user(u, institution["id"], student("100"))
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_user(u, institution["id"], student("100"))
    assert (exc.value.code, exc.value.status, exc.value.field) == ("user_exists", 409, "code")


def test_same_code_in_other_institution_is_fine(uow, institution):
    with uow() as u:
        other = institutions.create_institution(u, {"name": "B", "brin": "06AB",
                                                    "school_type": "vo"})
    with uow() as u:
        accounts.create_user(u, institution["id"], student("100"))
    with uow() as u:
        assert accounts.create_user(u, other["id"], student("100"))["institution_id"] == other["id"]


def test_helpdesk_role_only_on_platform(uow, institution):
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_user(u, institution["id"], {"code": "hd", "first_name": "H",
                                               "last_name": "D", "roles": ["helpdesk"]})
    assert exc.value.code == "role_invalid"
    with uow() as u:
        platform = institutions.ensure_platform(u)
        platform_id = platform.id
    with uow() as u:
        user = accounts.create_user(u, platform_id, {"code": "hd2", "first_name": "H",
                                                     "last_name": "D", "roles": ["helpdesk"]})
    assert user["roles"] == ["helpdesk"]


def test_batch_of_2000_is_fast_and_writes_events_in_bulk(uow, institution, users_db):
    rows = [student(str(100000 + i), email=f"l{i}@institution.nl") for i in range(2000)]
    start = time.monotonic()
    with uow() as u:
        result = accounts.create_users(u, institution["id"], rows)
    elapsed = time.monotonic() - start
    assert len(result["created"]) == 2000
    assert [r["code"] for r in result["created"]] == [r["code"] for r in rows]
    assert len({r["id"] for r in result["created"]}) == 2000
    assert count_users(users_db) == 2000
    assert len(events(users_db, "user_created")) == 2000
    assert elapsed < 10, f"2000 rows took {elapsed:.1f}s"


def test_creation_events_name_the_service_that_creates_the_account(uow, institution, users_db):
    with uow() as u:
        accounts.create_user(u, institution["id"], student("7001"))
    with uow() as u:
        accounts.create_user(u, institution["id"], student("7002"), origin="students")
    with uow() as u:
        accounts.create_users(u, institution["id"], [student("7003")], batch_events=True,
                              origin="students")
    with uow() as u:   # not a service name: left out
        accounts.create_user(u, institution["id"], student("7004"), origin="drop table; --")
    first, second, fourth = events(users_db, "user_created")
    assert "origin" not in first["data"] and "origin" not in fourth["data"]
    assert second["data"]["origin"] == "students"
    (batch,) = events(users_db, "users_created_batch")
    assert batch["data"]["users"][0]["origin"] == "students"


def test_batch_with_bad_row_writes_nothing(uow, institution, users_db):
    rows = [student(str(100000 + i)) for i in range(2000)]
    rows[1499] = student("15OO")          # letters in a student number
    rows[1799]["postcode"] = "nope"
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_users(u, institution["id"], rows)
    err = exc.value
    assert err.status == 422 and err.code == "student_number_not_digits"
    assert [(e["row"], e["field"], e["code"]) for e in err.errors] == [
        (1500, "code", "student_number_not_digits"), (1800, "postcode", "postcode_invalid")]
    assert count_users(users_db) == 0 and events(users_db) == []


def test_batch_duplicates_within_batch_and_against_db_are_409(uow, institution, users_db):
    with uow() as u:
        accounts.create_user(u, institution["id"], student("5"))
    rows = [student("1"), student("2"), student("1"), student("5")]
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_users(u, institution["id"], rows)
    err = exc.value
    assert (err.code, err.status) == ("user_exists", 409)
    assert [(e["row"], e["code"]) for e in err.errors] == [(3, "user_exists"),
                                                           (4, "user_exists")]
    assert count_users(users_db) == 1


def test_batch_mixing_invalid_and_duplicate_is_422(uow, institution):
    rows = [student("1"), student("1"), student("x")]
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_users(u, institution["id"], rows)
    assert exc.value.status == 422
    assert {e["row"] for e in exc.value.errors} == {2, 3}


def test_batch_rejects_non_list(uow, institution):
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.create_users(u, institution["id"], {"code": "1"})
    assert exc.value.code == "rows_invalid"
    with uow() as u:
        assert accounts.create_users(u, institution["id"], []) == {"created": []}


# --- changing users -------------------------------------------------------------------

def test_update_user_records_changes_and_hides_password(uow, institution, users_db):
    with uow() as u:
        before = accounts.create_user(u, institution["id"], student("7", city="Zwolle"))
    with uow() as u:
        after = account_changes.update_user(u, institution["id"], "7", {
            "city": "Utrecht", "first_name": "Leerling", "password": PASSWORD})
    assert after["city"] == "Utrecht" and after["updated_at"] >= before["updated_at"]
    (event,) = events(users_db, "user_updated")
    assert event["data"] == {"user_id": before["id"], "code": "7", "changes": {
        "city": ["Zwolle", "Utrecht"], "password": ["***", "***"]}}
    assert "$argon2" not in json.dumps(event)
    with uow() as u:
        assert auth.authenticate(u, "05KQ", "7", PASSWORD)["user_id"] == before["id"]


def test_change_of_an_account_changed_while_hashing_is_refused(uow, institution, users_db,
                                                               monkeypatch):
    """A change with a password lets go of the row while hashing; when another
    change landed meanwhile, it is refused whole (409 user_changed), not merged."""
    from services.users import passwords
    with uow() as u:
        accounts.create_user(u, institution["id"], student("7", city="Zwolle"))
    real_hash = passwords.hash_passwords

    def hash_while_someone_changes_the_city(plain):
        with uow() as other:
            account_changes.update_user(other, institution["id"], "7", {"city": "Utrecht"})
        return real_hash(plain)

    monkeypatch.setattr(passwords, "hash_passwords", hash_while_someone_changes_the_city)
    with uow() as u, pytest.raises(DomainError) as exc:
        account_changes.update_user(u, institution["id"], "7", {
            "first_name": "Nieuw", "password": PASSWORD})
    assert (exc.value.code, exc.value.status) == ("user_changed", 409)
    with uow() as u:
        user = account_queries.get_user(u, institution["id"], "7")
    assert (user["city"], user["first_name"]) == ("Utrecht", student("7")["first_name"])
    assert [e["data"]["changes"] for e in events(users_db, "user_updated")] == [
        {"city": ["Zwolle", "Utrecht"]}]


def test_update_user_errors(uow, institution):
    with uow() as u:
        accounts.create_user(u, institution["id"], student("7"))
    with uow() as u, pytest.raises(DomainError) as exc:
        account_changes.update_user(u, institution["id"], "7", {"code": "8"})
    assert (exc.value.code, exc.value.status) == ("field_immutable", 422)
    with uow() as u, pytest.raises(DomainError) as exc:
        account_changes.update_user(u, institution["id"], "7", {"roles": ["admin"]})
    assert exc.value.code == "role_invalid"
    with uow() as u, pytest.raises(DomainError) as exc:
        account_changes.update_user(u, institution["id"], "404", {"city": "X"})
    assert (exc.value.code, exc.value.status) == ("not_found", 404)


def test_update_user_changes_type_and_roles(uow, institution, users_db):
    with uow() as u:
        accounts.create_user(u, institution["id"], student("7"))
    with uow() as u:
        user = account_changes.update_user(u, institution["id"], "7", {"is_student": False,
                                                          "roles": ["mentor"]})
    assert (user["type"], user["roles"], user["is_student"]) == ("employee", ["mentor"], False)
    (event,) = events(users_db, "user_updated")
    assert event["data"]["changes"] == {"type": ["student", "employee"],
                                        "roles": [["student"], ["mentor"]]}


def test_update_users_all_or_nothing_and_no_event_for_unchanged(uow, institution, users_db):
    with uow() as u:
        accounts.create_users(u, institution["id"], [student(str(i)) for i in range(1, 4)])
    with uow() as u, pytest.raises(DomainError) as exc:
        account_changes.update_users(u, institution["id"], [
            {"code": "1", "city": "Delft"}, {"code": "2", "postcode": "bad"},
            {"code": "9", "city": "X"}])
    assert exc.value.status == 422
    assert [(e["row"], e["code"]) for e in exc.value.errors] == [(2, "postcode_invalid"),
                                                               (3, "not_found")]
    with uow() as u:
        assert account_queries.get_user(u, institution["id"], "1")["city"] is None
    with uow() as u:
        result = account_changes.update_users(u, institution["id"], [
            {"code": "1", "city": "Delft"}, {"code": "2", "first_name": "Leerling"}])
    assert [r["city"] for r in result["updated"]] == ["Delft", None]
    updated = events(users_db, "user_updated")
    assert [e["data"]["code"] for e in updated] == ["1"]


def test_update_users_unknown_codes_only_is_404(uow, institution):
    with uow() as u, pytest.raises(DomainError) as exc:
        account_changes.update_users(u, institution["id"], [{"code": "9", "city": "X"}])
    assert (exc.value.code, exc.value.status) == ("not_found", 404)
    assert exc.value.errors[0]["row"] == 1


def test_archive_twice_is_noop_and_unarchive(uow, institution, users_db):
    with uow() as u:
        accounts.create_user(u, institution["id"], student("7", password=PASSWORD))
    with uow() as u:
        first = account_changes.archive_user(u, institution["id"], "7")
    with uow() as u:
        second = account_changes.archive_user(u, institution["id"], "7")
    assert first["archived"] is True and second["archived_at"] == first["archived_at"]
    assert len(events(users_db, "user_archived")) == 1
    assert events(users_db, "user_archived")[0]["data"] == {
        "user_id": first["id"], "code": "7", "type": "student"}
    with uow() as u, pytest.raises(DomainError) as exc:
        auth.authenticate(u, "05KQ", "7", PASSWORD)
    assert exc.value.code == "invalid_credentials"
    with uow() as u, pytest.raises(DomainError) as exc:
        auth.get_principal(u, first["id"])
    assert (exc.value.code, exc.value.status) == ("token_invalid", 401)
    with uow() as u:
        back = account_changes.unarchive_user(u, institution["id"], "7")
    assert back["archived"] is False and back["archived_at"] is None
    assert len(events(users_db, "user_unarchived")) == 1
    with uow() as u:
        assert auth.get_principal(u, str(first["id"]))["code"] == "7"


# --- reading users ------------------------------------------------------------------------

@pytest.fixture
def people(uow, institution):
    rows = [
        {"code": "1", "is_student": True, "first_name": "Anna", "prefix": "van der",
         "last_name": "Berg", "email": "anna@institution.nl"},
        {"code": "2", "is_student": True, "first_name": "Bram", "last_name": "Aalders"},
        {"code": "jbakker", "type": "employee", "first_name": "Joost", "last_name": "Bakker",
         "roles": ["admin"]},
        {"code": "ouder1", "type": "guardian", "first_name": "Carla", "last_name": "Berg"},
        {"code": "3", "is_student": True, "first_name": "Anna", "last_name": "Aalders"},
    ]
    with uow() as u:
        accounts.create_users(u, institution["id"], rows)
    with uow() as u:
        account_changes.archive_user(u, institution["id"], "3")
    return institution["id"]


def codes_of(result):
    return [item["code"] for item in result["items"]]


def test_list_filters_and_order(uow, people):
    with uow() as u:
        assert codes_of(account_queries.list_users(u, people)) == ["2", "jbakker", "1", "ouder1"]
        assert codes_of(account_queries.list_users(u, people, "students")) == ["2", "1"]
        assert codes_of(account_queries.list_users(u, people, "employees")) == ["jbakker"]
        assert codes_of(account_queries.list_users(u, people, "archived")) == ["3"]
        with pytest.raises(DomainError):
            account_queries.list_users(u, people, "teachers")


@pytest.mark.parametrize("q,expected", [
    ("berg", ["1", "ouder1"]), ("ANNA VAN DER", ["1"]), ("anna berg", ["1"]),
    ("@institution", ["1"]), ("jbak", ["jbakker"]), ("van", ["1"]), ("%", []), ("_", []),
])
def test_list_search(uow, people, q, expected):
    with uow() as u:
        assert codes_of(account_queries.list_users(u, people, "all", q)) == expected


def test_list_paging(uow, people):
    with uow() as u:
        page = account_queries.list_users(u, people, "all", None, 2, 3)
    assert page["total"] == 4 and page["page"] == 2 and page["page_size"] == 3
    assert codes_of(page) == ["ouder1"]


def test_get_users_omits_missing_and_other_institutions(uow, people):
    with uow() as u:
        other = institutions.create_institution(u, {"name": "B", "brin": "06AB",
                                                    "school_type": "vo"})
    with uow() as u:
        found = account_queries.get_users(u, people, ["2", "nope", "1", "2"])
        assert [f["code"] for f in found] == ["2", "1"]
        assert account_queries.get_users(u, other["id"], ["1", "2"]) == []
        with pytest.raises(DomainError) as exc:
            account_queries.get_user(u, other["id"], "1")
        assert exc.value.status == 404


def test_get_users_with_fields_answers_only_those_and_the_same_stamp(uow, people):
    with uow() as u:
        full = {f["code"]: f for f in account_queries.get_users(u, people, ["1", "2"])}
        light = account_queries.get_users(u, people, ["2", "nope", "1"],
                                          fields=["first_name", "email", "password_hash", "bogus"])
    assert [f["code"] for f in light] == ["2", "1"]
    for item in light:
        same = full[item["code"]]
        assert set(item) == {"code", "type", "is_student", "archived", "updated_at",
                             "first_name", "email"}  # never the hash, nothing unknown
        assert {k: same[k] for k in item} == item  # the same values, the same updated_at


# --- authentication and throttling -----------------------------------------------------------

@pytest.fixture
def account(uow, institution):
    with uow() as u:
        return accounts.create_user(u, institution["id"], {
            "code": "jbakker", "type": "employee", "first_name": "Joost",
            "last_name": "Bakker", "roles": ["admin", "mentor"], "password": PASSWORD})


def test_authenticate_returns_principal_and_sets_last_login(uow, institution, account):
    with uow() as u:
        principal = auth.authenticate(u, "05kq", "jbakker", PASSWORD)
    epoch = principal.pop("token_epoch")
    assert principal == {"user_id": account["id"], "institution_id": institution["id"],
                         "institution": "05KQ", "code": "jbakker", "type": "employee",
                         "roles": ["admin", "mentor"], "is_platform": False}
    principal["token_epoch"] = epoch
    with uow() as u:
        assert account_queries.get_user(u, institution["id"], "jbakker")["last_login_at"] is not None
        assert auth.get_principal(u, account["id"]) == principal
    # a new password is a new token epoch: tokens issued before it are refused
    with uow() as u:
        account_changes.update_user(u, institution["id"], "jbakker", {"password": PASSWORD + "-nieuw"})
    with uow() as u:
        assert auth.get_principal(u, account["id"])["token_epoch"] != epoch


def test_four_character_brin_finds_single_branch(uow):
    with uow() as u:
        inst = institutions.create_institution(u, {"name": "Vestiging", "brin": "07CD01",
                                                   "school_type": "vo"})
    with uow() as u:
        accounts.create_user(u, inst["id"], student("1", password=PASSWORD))
    with uow() as u:
        assert auth.authenticate(u, "07cd", "1", PASSWORD)["institution"] == "07CD01"


@pytest.mark.parametrize("login_institution,code,password", [
    ("05KQ", "jbakker", "wrong password"),
    ("09ZZ", "jbakker", PASSWORD),
    ("05KQ", "nobody", PASSWORD),
    ("not a brin", "jbakker", PASSWORD),
    ("05KQ", None, None),
])
def test_every_failure_is_the_same_401(uow, account, login_institution, code, password):
    with uow() as u, pytest.raises(DomainError) as exc:
        auth.authenticate(u, login_institution, code, password)
    assert (exc.value.code, exc.value.status, exc.value.message) == (
        "invalid_credentials", 401, "Onjuiste instelling, gebruikersnaam of wachtwoord.")


def attempt(uow, when, password, code="jbakker"):
    with uow() as u:
        try:
            return auth.authenticate(u, "05KQ", code, password, now=when)
        except DomainError as exc:
            return exc


def test_throttle_after_five_failures(uow, account, users_db):
    t0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.timezone.utc)
    for i in range(5):
        assert attempt(uow, t0, "wrong!wrong!").code == "invalid_credentials"
    blocked = attempt(uow, t0 + dt.timedelta(seconds=0.5), PASSWORD)
    assert (blocked.code, blocked.status, blocked.extra) == (
        "too_many_attempts", 429, {"retry_after": 1})
    assert blocked.message.startswith("Te veel mislukte inlogpogingen")
    # waiting the full second allows one more try; a sixth failure doubles the wait
    assert attempt(uow, t0 + dt.timedelta(seconds=1), "wrong!wrong!").code == \
        "invalid_credentials"
    t1 = t0 + dt.timedelta(seconds=1)
    assert attempt(uow, t1 + dt.timedelta(seconds=1.5), PASSWORD).extra == {"retry_after": 1}
    assert attempt(uow, t1 + dt.timedelta(seconds=0.1), PASSWORD).extra == {"retry_after": 2}
    # success resets the counter
    assert attempt(uow, t1 + dt.timedelta(seconds=2), PASSWORD)["code"] == "jbakker"
    with users_db.session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(login_throttle)) \
            .scalar_one() == 0
    for i in range(5):
        assert attempt(uow, t1 + dt.timedelta(seconds=3), "nope-nope!").code == \
            "invalid_credentials"


def test_throttle_for_unknown_account_and_cap(uow, account, users_db):
    t0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.timezone.utc)
    for _ in range(5):
        assert attempt(uow, t0, PASSWORD, code="ghost").code == "invalid_credentials"
    assert attempt(uow, t0, PASSWORD, code="ghost").code == "too_many_attempts"
    assert attempt(uow, t0, PASSWORD)["code"] == "jbakker"  # another account is not affected
    with users_db.session_factory() as session:
        session.execute(sa.update(login_throttle).values(failures=40))
        session.commit()
    assert attempt(uow, t0 + dt.timedelta(seconds=10), PASSWORD, code="ghost").extra == {
        "retry_after": 290}


def test_create_users_checks_and_writes_holding_the_lane_and_hashes_without_it(
        users_db, institution, monkeypatch):
    """UnitOfWork.lane (a list load's batches one at a time per process): the
    rows are checked and written holding it; passwords are hashed without it,
    so other batches' own work goes on meanwhile."""
    import eventlet
    from eventlet.semaphore import Semaphore

    from services.users import passwords

    lane, seen = Semaphore(1), []
    real_hash = passwords.hash_passwords
    monkeypatch.setattr(passwords, "hash_passwords",
                        lambda values: (seen.append(("hashing", lane.locked())),
                                        real_hash(values))[1])
    lane.acquire()  # another batch holds it

    def run():
        with users_db.uow() as uow:
            uow.lane = lane
            return accounts.create_users(uow, institution["id"], [
                {"code": "u1", "first_name": "A", "last_name": "B", "password": "Wachtwoord-1!"}])

    thread = eventlet.spawn(run)
    eventlet.sleep(0.05)
    assert seen == []  # not even checked yet
    lane.release()
    created = thread.wait()["created"]
    assert [u["code"] for u in created] == ["u1"]
    assert seen == [("hashing", False)]
    assert not lane.locked()
