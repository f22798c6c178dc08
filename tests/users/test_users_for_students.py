"""What the users service offers the students service: find_codes (search),
discard_users (compensation of a failed composite create) and batch events
for create_users."""
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.errors import DomainError
from services.common.outbox import utcnow
from services.users import account_changes, account_queries, accounts, institutions
from services.users.models import outbox, users
from services.users.service import UsersService


def student(code, **kw):
    data = {"code": code, "is_student": True, "first_name": "Leerling",
            "last_name": f"Nummer {code}"}
    data.update(kw)
    return data


def events(users_db, event_type):
    with users_db.session_factory() as session:
        return [json.loads(b) for (b,) in session.execute(
            sa.select(outbox.c.body).where(outbox.c.event_type == event_type)
            .order_by(outbox.c.id))]


def set_user(users_db, code, **values):
    with users_db.session_factory() as session:
        session.execute(sa.update(users).where(users.c.code == code).values(**values))
        session.commit()


def codes_in_db(users_db):
    with users_db.session_factory() as session:
        return sorted(session.execute(sa.select(users.c.code)).scalars())


def test_create_users_with_batch_events(uow, institution, users_db):
    with uow() as u:
        created = accounts.create_users(u, institution["id"], [student(str(i)) for i in range(1, 1202)],
                                        batch_events=True)["created"]
    assert len(created) == 1201
    batches = events(users_db, "users_created_batch")
    assert [b["data"]["count"] for b in batches] == [500, 500, 201]
    assert batches[0]["data"]["users"][0] == {
        "user_id": created[0]["id"], "code": "1", "type": "student", "roles": ["student"],
        "initials": None, "first_name": "Leerling", "prefix": None, "last_name": "Nummer 1",
        "email": None}
    assert events(users_db, "user_created") == []


def test_find_codes(uow, institution, users_db):
    with uow() as u:
        accounts.create_users(u, institution["id"], [
            student("1001", first_name="Anna", last_name="Bakker", email="anna@institution.nl"),
            student("1002", first_name="Bram", prefix="de", last_name="Vries"),
            student("2001", first_name="Cor", last_name="Aalders"),
            {"code": "anna", "first_name": "Anna", "last_name": "Docent"}])
        institutions.create_institution(u, {"name": "Ander", "brin": "06AB", "school_type": "vo"})
    set_user(users_db, "1002", last_login_at=utcnow())
    iid = institution["id"]
    with uow() as u:
        assert account_queries.find_codes(u, iid) == ["2001", "1001", "1002"]   # by last name
        assert account_queries.find_codes(u, iid, q="ANNA") == ["1001"]
        assert account_queries.find_codes(u, iid, q="anna", types=None) == ["1001", "anna"]
        assert account_queries.find_codes(u, iid, q="bram de vries") == ["1002"]
        assert account_queries.find_codes(u, iid, q="institution.nl") == ["1001"]
        assert account_queries.find_codes(u, iid, q="100") == ["1001", "1002"]
        assert account_queries.find_codes(u, iid, registered=True) == ["1002"]
        assert account_queries.find_codes(u, iid, registered=False) == ["2001", "1001"]
        assert account_queries.find_codes(u, iid, q="%") == []
        assert account_queries.find_codes(u, iid + 1) == []
        assert account_queries.find_codes(u, "x") == []
        with pytest.raises(DomainError) as exc:
            account_queries.find_codes(u, iid, types=["robot"])
        assert exc.value.code == "user_type_invalid"


ACCENTED = [
    student("3001", first_name="Mesut", last_name="Özil"),
    student("3002", first_name="Ayşe", last_name="Çelik", email="ayse.celik@institution.nl"),
    student("3003", first_name="Daniëlle", prefix="van 't", last_name="Hof"),
    student("3004", first_name="Ozzy", last_name="Zilver"),
]


@pytest.mark.parametrize("q,expected", [
    ("ozil", ["3001"]), ("ÖZIL", ["3001"]), ("Özil", ["3001"]), ("mesut özil", ["3001"]),
    ("celik", ["3002"]), ("ÇELİK", ["3002"]), ("ayşe", ["3002"]),
    ("danielle", ["3003"]), ("DANIËLLE VAN 'T HOF", ["3003"]), ("daniëlle hof", ["3003"]),
    ("o_il", []), ("oz%l", []), ("ozil\\", []),
])
def test_find_codes_ignores_case_and_accents(uow, institution, q, expected):
    with uow() as u:
        accounts.create_users(u, institution["id"], ACCENTED, batch_events=True)
    with uow() as u:
        assert account_queries.find_codes(u, institution["id"], q=q) == expected


def test_search_follows_changes_of_name_and_email(uow, institution):
    with uow() as u:
        accounts.create_user(u, institution["id"], student("1", first_name="Anna", last_name="Smit"))
    with uow() as u:
        account_changes.update_users(u, institution["id"], [{"code": "1", "last_name": "Şahin"}])
    with uow() as u:
        assert account_queries.find_codes(u, institution["id"], q="sahin") == ["1"]
        assert account_queries.find_codes(u, institution["id"], q="smit") == []
    with uow() as u:
        account_changes.update_user(u, institution["id"], "1", {"first_name": "Ééntje", "prefix": "de",
                                                           "email": "E.Sahin@Thuis.nl"})
    with uow() as u:
        assert account_queries.find_codes(u, institution["id"], q="EENTJE DE SAHIN") == ["1"]
        assert account_queries.find_codes(u, institution["id"], q="eentje sahin") == ["1"]
        assert account_queries.find_codes(u, institution["id"], q="sahin@thuis") == ["1"]
        assert account_queries.find_codes(u, institution["id"], q="anna") == []


def test_discard_users_removes_only_fresh_unused_accounts(uow, institution, users_db):
    with uow() as u:
        accounts.create_users(u, institution["id"], [student(c) for c in ("1", "2", "3", "4")])
    set_user(users_db, "2", last_login_at=utcnow())                             # in use
    set_user(users_db, "3", created_at=utcnow() - dt.timedelta(hours=2))        # too old
    with uow() as u:
        result = accounts.discard_users(u, institution["id"], ["1", "2", "3", "99", None])
    assert result == {"discarded": ["1"], "kept": ["2", "3"]}
    assert codes_in_db(users_db) == ["2", "3", "4"]
    (event,) = events(users_db, "user_discarded")
    assert event["data"]["code"] == "1" and event["data"]["type"] == "student"
    with uow() as u:
        assert accounts.discard_users(u, institution["id"], ["4"], batch_events=True) == {
            "discarded": ["4"], "kept": []}
    (batch,) = events(users_db, "users_discarded_batch")
    assert batch["data"]["count"] == 1 and batch["data"]["users"][0]["code"] == "4"
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.discard_users(u, institution["id"], "4")
    assert exc.value.code == "value_invalid"
    with uow() as u, pytest.raises(DomainError) as exc:
        accounts.discard_users(u, 999, ["2"])
    assert exc.value.code == "not_found"


def test_the_new_methods_over_rpc(container_factory, service_config):
    container = container_factory(UsersService, service_config)
    container.start()
    with ServiceRpcProxy("users", service_config, timeout=30) as rpc:
        institution = rpc.create_institution({"name": "Lyceum", "brin": "05KQ", "school_type": "vo"})
        created = rpc.create_users(institution["id"], [student("1"), student("2")],
                                   batch_events=True)["created"]
        assert [u["code"] for u in created] == ["1", "2"]
        assert rpc.find_codes(institution["id"], q="nummer 2") == ["2"]
        assert rpc.discard_users(institution["id"], ["1", "2"]) == {"discarded": ["1", "2"],
                                                               "kept": []}
        assert rpc.find_codes(institution["id"]) == []


def test_migration_0002_backfills_the_search_text(make_db):
    """Users written before 0002 are found by the folded search once migrated."""
    from alembic import command
    from services.common import migrate
    from services.common.db import make_engine

    url = make_db("users")
    command.downgrade(migrate.alembic_config("users", url), "0001")
    engine = make_engine(url)
    now = utcnow()
    try:
        with engine.begin() as conn:
            assert "search_text" not in {c["name"] for c in sa.inspect(conn).get_columns("users")}
            iid = conn.execute(sa.text(
                "INSERT INTO institutions (name, brin, school_type, is_platform, upload_code, "
                "created_at) VALUES ('Lyceum', '05KQ', 'vo', false, 'c1', :now) RETURNING id"),
                {"now": now}).scalar_one()
            conn.execute(sa.text(
                "INSERT INTO users (institution_id, code, type, first_name, prefix, last_name, "
                "email, roles, created_at, updated_at) VALUES (:iid, :code, 'student', :first, "
                ":prefix, :last, :email, '[\"student\"]', :now, :now)"),
                [{"iid": iid, "code": str(1000 + i), "first": first, "prefix": prefix,
                  "last": last, "email": email, "now": now}
                 for i, (first, prefix, last, email) in enumerate([
                     ("Mesut", None, "Özil", None), ("Daniëlle", "van", "Çelik", "d@x.nl")])])
        migrate.upgrade("users", url)
        with engine.connect() as conn:
            texts = dict(conn.execute(sa.text("SELECT code, search_text FROM users")).all())
            nullable = {c["name"]: c["nullable"]
                        for c in sa.inspect(conn).get_columns("users")}["search_text"]
    finally:
        engine.dispose()
    assert texts == {"1000": "mesut ozil\nmesut ozil\n\n1000",
                     "1001": "danielle van celik\ndanielle celik\nd@x.nl\n1001"}
    assert nullable is False
