"""The batch create of accounts as the loaders use it: COPY on PostgreSQL,
the brief answer, adoption by origin key, a code taken by a concurrent insert."""
import json

import pytest
import sqlalchemy as sa

from services.common import bulk
from services.common.errors import DomainError
from services.common.times import iso
from services.users import accounts
from services.users.models import outbox, users


def student(code, **kw):
    return {"code": code, "type": "student", "roles": ["student"], "initials": "L.",
            "first_name": "Leerling", "prefix": "van", "last_name": f"Nummer {code}",
            "gender": "V", "email": f"l{code}@school.nl", "street": "Hoofdstraat",
            "house_number": "1a", "postcode": "7311ba", "city": "Apeldoorn", **kw}


def stored(users_db):
    with users_db.session_factory() as session:
        return {r.code: r for r in session.execute(sa.select(users))}


def test_brief_batch_answers_ids_and_codes_and_stores_every_field(uow, institution, users_db):
    rows = [student(str(200000 + i)) for i in range(300)]
    with uow() as u:
        result = accounts.create_users(u, institution["id"], rows, batch_events=True,
                                       origin="students", origin_key="submission:1:x",
                                       brief=True)
    created = result["created"]
    assert [set(c) for c in created] == [{"id", "code", "updated_at"}] * 300
    assert [c["code"] for c in created] == [r["code"] for r in rows]
    by_code = stored(users_db)
    assert {c["code"]: c["id"] for c in created} == {k: r.id for k, r in by_code.items()}
    assert created[0]["updated_at"] == iso(by_code["200000"].updated_at)
    row = by_code["200007"]
    assert (row.postcode, row.roles, row.prefix, row.type, row.password_hash) == \
        ("7311 BA", ["student"], "van", "student", None)
    assert row.origin_key == "submission:1:x"
    assert "nummer 200007" in row.search_text and row.created_at is not None
    with users_db.session_factory() as session:
        bodies = [json.loads(b) for (b,) in session.execute(
            sa.select(outbox.c.body).where(outbox.c.event_type == "users_created_batch"))]
    assert sum(b["data"]["count"] for b in bodies) == 300
    event_user = bodies[0]["data"]["users"][7]
    assert event_user == {"user_id": row.id, "code": "200007", "type": "student",
                          "roles": ["student"], "initials": "L.", "first_name": "Leerling",
                          "prefix": "van", "last_name": "Nummer 200007",
                          "email": "l200007@school.nl", "origin": "students"}


def test_a_retry_of_the_same_operation_adopts_its_accounts_briefly(uow, institution, users_db):
    with uow() as u:
        first = accounts.create_users(u, institution["id"], [student("300001")],
                                      origin_key="submission:2:x", brief=True)["created"]
    with uow() as u:
        again = accounts.create_users(u, institution["id"],
                                      [student("300001"), student("300002")],
                                      origin_key="submission:2:x", brief=True)["created"]
    assert again[0] == first[0]
    assert set(again[1]) == {"id", "code", "updated_at"} and again[1]["code"] == "300002"
    with uow() as u, pytest.raises(DomainError) as info:
        accounts.create_users(u, institution["id"], [student("300001")],
                              origin_key="submission:3:x", brief=True)
    assert info.value.code == "user_exists"


def test_the_full_answer_is_the_user_record(uow, institution):
    with uow() as u:
        created = accounts.create_users(u, institution["id"], [student("400001")])["created"]
    assert created[0]["code"] == "400001" and created[0]["postcode"] == "7311 BA"
    assert created[0]["is_student"] is True and "password_hash" not in created[0]


def test_a_code_taken_when_the_batch_is_written_refuses_the_whole_batch(uow, institution,
                                                                        users_db, monkeypatch):
    """The code is free when the batch is checked and taken when it is
    written: the insert (COPY on PostgreSQL) fails on the unique key, which
    answers user_exists and writes nothing of the batch."""
    real = bulk.insert_many

    def insert_after_a_rival(session, table, rows, return_ids=False):
        if table is users:
            session.execute(sa.insert(users).values(rows[1]))
        return real(session, table, rows, return_ids)

    monkeypatch.setattr(accounts.bulk, "insert_many", insert_after_a_rival)
    with uow() as u, pytest.raises(DomainError) as info:
        accounts.create_users(u, institution["id"], [student("500001"), student("500002")],
                              batch_events=True)
    assert (info.value.code, info.value.status) == ("user_exists", 409)
    assert stored(users_db) == {}
