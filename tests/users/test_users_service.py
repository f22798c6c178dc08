"""UsersService over RabbitMQ: RPC through a standalone proxy, events through
a plain kombu consumer (what a program without nameko would do)."""
import json
import socket

import pytest
from kombu import Connection, Queue
from nameko.cli.run import import_service
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.errors import DomainError
from services.common.outbox import events_exchange
from services.users.service import UsersService

PASSWORD = "een goed wachtwoord"


@pytest.fixture
def users_rpc(container_factory, service_config):
    container = container_factory(UsersService, service_config)
    container.start()
    with ServiceRpcProxy("users", service_config, timeout=60) as proxy:
        yield proxy


@pytest.fixture
def institution(users_rpc):
    return users_rpc.create_institution({"name": "Het Lyceum", "brin": "05KQ01",
                                         "school_type": "vo"})


def test_module_holds_exactly_one_service():
    assert import_service("services.users.service") == [UsersService]
    assert UsersService.name == "users"


def test_health(users_rpc):
    assert users_rpc.health() == {"service": "users", "status": "ok"}


def test_domain_errors_cross_rpc_intact(users_rpc, institution):
    with pytest.raises(DomainError) as exc:
        users_rpc.create_user(institution["id"], {"code": "A12", "is_student": True,
                                             "first_name": "Sanne", "last_name": "Jong"})
    err = exc.value
    assert (err.code, err.status, err.field) == ("student_number_not_digits", 422, "code")
    assert err.message == "De code van een leerling mag alleen cijfers bevatten."
    assert err.errors == [{"code": "student_number_not_digits", "field": "code",
                           "message": "De code van een leerling mag alleen cijfers bevatten."}]

    with pytest.raises(DomainError) as exc:
        users_rpc.get_user(institution["id"], "nobody")
    assert (exc.value.code, exc.value.status) == ("not_found", 404)
    with pytest.raises(DomainError) as exc:
        users_rpc.create_institution({"name": "Dubbel", "brin": "05kq01", "school_type": "vo"})
    assert (exc.value.code, exc.value.status) == ("institution_exists", 409)


def test_user_lifecycle_and_login(users_rpc, institution):
    iid = institution["id"]
    assert users_rpc.get_institution(iid) == institution
    assert users_rpc.list_institutions() == {"items": [institution], "total": 1, "page": 1,
                                            "page_size": 50}
    user = users_rpc.create_user(iid, {
        "code": "jbakker", "first_name": "Joost", "last_name": "Bakker", "is_student": False,
        "roles": ["admin"], "password": PASSWORD, "postcode": "1234ab"})
    assert user["postcode"] == "1234 AB" and user["roles"] == ["admin"]

    principal = users_rpc.authenticate("05kq01", "jbakker", PASSWORD)
    assert len(principal["token_epoch"]) == 16
    assert {k: v for k, v in principal.items() if k != "token_epoch"} == {
        "user_id": user["id"], "institution_id": iid, "institution": "05KQ01",
        "code": "jbakker", "type": "employee", "roles": ["admin"], "is_platform": False}
    assert users_rpc.get_principal(user["id"]) == principal
    assert users_rpc.get_user(iid, "jbakker")["last_login_at"] is not None

    changed = users_rpc.update_user(iid, "jbakker", {"roles": ["admin", "scheduler"]})
    assert changed["roles"] == ["admin", "scheduler"]
    assert users_rpc.list_users(iid, filter="employees", q="bak")["total"] == 1

    assert users_rpc.archive_user(iid, "jbakker")["archived"] is True
    with pytest.raises(DomainError) as exc:
        users_rpc.authenticate("05KQ01", "jbakker", PASSWORD)
    assert (exc.value.code, exc.value.status) == ("invalid_credentials", 401)
    with pytest.raises(DomainError) as exc:
        users_rpc.get_principal(user["id"])
    assert (exc.value.code, exc.value.status) == ("token_invalid", 401)
    assert users_rpc.list_users(iid, filter="archived")["items"][0]["code"] == "jbakker"
    assert users_rpc.unarchive_user(iid, "jbakker")["archived"] is False


def test_throttle_over_rpc(users_rpc, institution):
    for _ in range(5):
        with pytest.raises(DomainError) as exc:
            users_rpc.authenticate("05KQ01", "ghost", "wrong password")
        assert exc.value.code == "invalid_credentials"
    # The sixth attempt waits 1 s after the fifth failure; a slow machine may get
    # past that second, but the wait doubles with every failure, so one of the
    # next attempts is refused.
    codes = []
    for _ in range(4):
        with pytest.raises(DomainError) as exc:
            users_rpc.authenticate("05KQ01", "ghost", "wrong password")
        codes.append(exc.value.code)
        if exc.value.code == "too_many_attempts":
            break
    assert codes[-1] == "too_many_attempts", codes
    assert exc.value.status == 429
    assert exc.value.extra["retry_after"] >= 1


def test_user_created_event_reaches_a_plain_kombu_consumer(users_rpc, institution, service_config):
    received = []
    with Connection(service_config["AMQP_URI"]) as conn:
        queue = Queue("test-users-events", exchange=events_exchange("users"),
                      routing_key="user_created", exclusive=True)
        with conn.Consumer(queue, callbacks=[lambda body, msg: (received.append(body),
                                                                 msg.ack())],
                           accept=["json"]):
            user = users_rpc.create_user(institution["id"], {
                "code": "20355889", "is_student": True, "first_name": "Sanne",
                "prefix": "de", "last_name": "Jong", "email": "sanne@example.nl"})
            users_rpc.update_user(institution["id"], "20355889", {"city": "Delft"})  # other key
            while not received:
                try:
                    conn.drain_events(timeout=10)
                except socket.timeout:
                    break
    assert len(received) == 1
    body = received[0] if isinstance(received[0], dict) else json.loads(received[0])
    assert set(body) == {"event_id", "type", "version", "occurred_at", "institution_id", "data"}
    assert body["type"] == "user_created" and body["version"] == 1
    assert body["institution_id"] == institution["id"]
    assert body["data"] == {"user_id": user["id"], "code": "20355889", "type": "student",
                            "roles": ["student"], "initials": None, "first_name": "Sanne",
                            "prefix": "de", "last_name": "Jong",
                            "email": "sanne@example.nl"}


def test_batch_of_2000_with_bad_row_at_1500_writes_nothing(users_rpc, institution):
    rows = [{"code": str(300000 + i), "is_student": True, "first_name": "Leerling",
             "last_name": f"Nummer {i}"} for i in range(2000)]
    bad = dict(rows[1499], code="3001 499")
    with pytest.raises(DomainError) as exc:
        users_rpc.create_users(institution["id"], rows[:1499] + [bad] + rows[1500:])
    err = exc.value
    assert (err.code, err.status) == ("student_number_not_digits", 422)
    assert [(e["row"], e["field"]) for e in err.errors] == [(1500, "code")]
    assert users_rpc.list_users(institution["id"])["total"] == 0

    created = users_rpc.create_users(institution["id"], rows)["created"]
    assert len(created) == 2000 and created[1499]["code"] == "301499"
    assert users_rpc.list_users(institution["id"], filter="students")["total"] == 2000
    found = users_rpc.get_users(institution["id"], ["301499", "999999", "300000"])
    assert [u["code"] for u in found] == ["301499", "300000"]

    updated = users_rpc.update_users(institution["id"], [
        {"code": "300000", "city": "Delft"}, {"code": "300001", "first_name": "Leerling"}])
    assert [u["city"] for u in updated["updated"]] == ["Delft", None]


def test_batch_rows_with_passwords_can_log_in(users_rpc, institution):
    rows = [{"code": f"m{i}", "first_name": "Mentor", "last_name": str(i),
             "roles": ["mentor"], "password": f"wachtwoord-{i}-lang"} for i in range(4)]
    rows.append({"code": "zonder", "first_name": "Zonder", "last_name": "Wachtwoord"})
    created = users_rpc.create_users(institution["id"], rows)["created"]
    assert [u["code"] for u in created] == ["m0", "m1", "m2", "m3", "zonder"]
    assert users_rpc.authenticate("05KQ01", "m2", "wachtwoord-2-lang")["code"] == "m2"
    with pytest.raises(DomainError) as exc:
        users_rpc.authenticate("05KQ01", "m2", "wachtwoord-3-lang")
    assert exc.value.code == "invalid_credentials"

    users_rpc.update_users(institution["id"], [{"code": "m3", "password": "nieuw-wachtwoord"},
                                          {"code": "m1", "city": "Delft"}])
    assert users_rpc.authenticate("05KQ01", "m3", "nieuw-wachtwoord")["code"] == "m3"
    assert users_rpc.get_user(institution["id"], "m1")["city"] == "Delft"
