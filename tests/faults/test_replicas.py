"""Two replicas each of users, students, uploads and sync (`--replicas`), on
PostgreSQL: a big list, concurrent CSV commits and connector uploads land every
row exactly once, every event goes out once per event_id, two changes of one
student on two replicas never merge unseen (the first wins, the other is
refused), and archiving one account twice at once archives it once.

The list's size is LEERLINGBUS_REPLICA_LIST_ROWS (default 20,000)."""
import collections
import concurrent.futures
import os

import pytest
import sqlalchemy as sa

from tests.faults.harness import (
    HELPDESK_PASSWORD,
    PostgresDatabases,
    System,
    approved_list,
    assert_loaded_exactly_once,
    big_list,
    consumers,
    drain,
    postgres_answers,
    probe_all,
    wait_for,
)
from tests.flows.conftest import FlowSchool
from tests.helpers import Api
from tests.sync.conftest import API, ok

ROWS = int(os.environ.get("LEERLINGBUS_REPLICA_LIST_ROWS", "20000"))
SCALED = {"users": 2, "students": 2, "uploads": 2, "sync": 2}
EVENTS_OF = ("users", "students", "uploads", "sync")


@pytest.fixture(scope="module")
def scaled(private_broker, tmp_path_factory):
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer: replicas share a PostgreSQL database")
    databases = PostgresDatabases(("users", "students", "uploads", "sync", "oso"))
    replicas = ",".join(f"{name}={n}" for name, n in SCALED.items())
    system = System(tmp_path_factory.mktemp("replicas"), private_broker.uri, rpc_timeout=10,
                    extra_env=databases.env(), args=["--replicas", replicas])
    system.databases = databases
    try:
        system.start()
        yield system
    finally:
        system.stop()
        databases.drop()


@pytest.fixture
def events(scaled):
    """Every event published during the test: (probe queue, published ids of the outboxes)."""
    queue = probe_all(scaled.env["AMQP_URI"], EVENTS_OF)
    started = outbox_ids(scaled)
    yield lambda: (drain(scaled.env["AMQP_URI"], queue, 3),
                   {k: v - started[k] for k, v in outbox_ids(scaled).items()})


def outbox_ids(system):
    found = {}
    for service in EVENTS_OF:
        engine = sa.create_engine(system.databases.url(service))
        with engine.connect() as conn:
            found[service] = set(conn.execute(sa.text(
                "SELECT event_id FROM outbox WHERE published_at IS NOT NULL")).scalars())
        engine.dispose()
    return found


def assert_once_per_event_id(collect):
    bodies, published = collect()
    counts = collections.Counter(b["event_id"] for b in bodies)
    twice = [event_id for event_id, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} event(s) published more than once"
    expected = set().union(*published.values())
    assert set(counts) == expected, (len(counts), len(expected))
    return bodies


def helpdesk_api(system):
    api = Api(system.url)
    api.token = api.login("platform", "helpdesk", HELPDESK_PASSWORD)
    return api


def test_every_replica_consumes_its_service_queue(scaled):
    pids = scaled.pids()
    for name, count in SCALED.items():
        assert {f"{name}-{i}" for i in range(1, count + 1)} <= set(pids), pids
        assert consumers(scaled.env["AMQP_URI"], f"rpc-{name}") == count
    assert "oso" in pids and "gateway" in pids


def test_a_big_list_loads_every_row_once(scaled, events):
    client = scaled.client()
    _inst, admin, upload_id = approved_list(client, big_list(ROWS), "51RA")
    assert_loaded_exactly_once(client, upload_id, admin, ROWS)
    bodies = assert_once_per_event_id(events)
    registered = sum(b["data"]["count"] for b in bodies
                     if b["type"] == "students_registered_batch")
    assert registered == ROWS


def users_csv(first, count):
    lines = ["leerlingnummer;voornaam;achternaam"]
    lines += [f"{n};Leerling{n};Replica" for n in range(first, first + count)]
    return "\n".join(lines) + "\n"


def test_concurrent_csv_commits_apply_every_row_once(scaled, events):
    school = FlowSchool(helpdesk_api(scaled), "52RA", "Het Importcollege")
    per_file = 300
    imports = []
    for first in (700000, 800000):
        imp, preview = school.csv_import("users", users_csv(first, per_file),
                                         {"0": "code", "1": "first_name", "2": "last_name"},
                                         as_students=True, mode="import")
        assert sum(r["action"] == "create" for r in preview["rows"]) >= min(per_file, 50)
        imports.append(imp["id"])
    # each commit asked twice at once (a double click reaching both replicas)
    asks = [imports[0], imports[1], imports[0], imports[1]]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: school.api.post(
            f"{API}/imports/{i}/commit?async=true", token=school.admin), asks))
    assert all(r.status_code in (200, 202) for r in answers), [r.text for r in answers]

    def done(import_id):
        body = ok(school.api.get(f"{API}/imports/{import_id}", token=school.admin))
        return body if body["status"] not in ("committing", "previewed", "mapped") else None
    for import_id in imports:
        body = wait_for(lambda i=import_id: done(i), 120, interval=0.3, what="commit done")
        assert body["status"] == "committed", body
        result = school.commit(import_id)  # a commit again changes nothing: its result
        assert result["counts"]["created"] == per_file, result["counts"]
    students = ok(school.api.get(f"{API}/students?page_size=1", token=school.admin))["total"]
    assert students == 2 * per_file
    users = ok(school.api.get(f"{API}/users?filter=students&page_size=1",
                              token=school.admin))["total"]
    assert users == 2 * per_file
    assert_once_per_event_id(events)


def connector_snapshot(count):
    numbers = [str(900000 + n) for n in range(count)]
    return numbers, {
        "students": [{"student_number": n, "first_name": "Nieuw", "last_name": f"Leerling{n}",
                      "properties": {"#EMAIL": f"l{n}@example.nl"}} for n in numbers],
        "participations": [{"student_number": n, "department": "h5", "forecast": 100}
                           for n in numbers],
        "packages": [], "groups": [],
    }


def test_connector_uploads_on_two_replicas_create_every_student_once(scaled, events):
    school = FlowSchool(helpdesk_api(scaled), "53RA", "Het Koppelcollege")
    project = school.project_for("2025-2026", [("h5", 5, "desktop")])
    pid = project["id"]
    numbers, snapshot = connector_snapshot(200)
    ok(school.sync("PUT", pid, "snapshot", json=snapshot))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: school.sync("POST", pid, "upload/students", json={}),
                                range(2)))
    assert all(r.status_code in (200, 409) for r in answers), [r.text for r in answers]
    created = [a["student_number"] for r in answers if r.status_code == 200
               for a in r.json()["applied"] if a["action"] == "created"]
    assert sorted(created) == numbers  # each once, by one of the two
    again = ok(school.sync("POST", pid, "upload/students", json={}))
    assert again["count"] == 0
    assert ok(school.api.get(f"{API}/students?page_size=1", token=school.admin))["total"] \
        == len(numbers)
    # the refused upload adopted the same accounts: it left them to the records
    assert ok(school.api.get(f"{API}/users?filter=students&page_size=1",
                             token=school.admin))["total"] == len(numbers)
    placed = ok(school.api.get(f"{API}/projects/{pid}/participations?page_size=1",
                               token=school.admin))["total"]
    assert placed == len(numbers)
    assert_once_per_event_id(events)


BSN = "100000009"
ONDERWIJSNUMMER = "100000004"


def test_two_replicas_changing_one_student_never_merge_unseen(scaled):
    """Each round: one request drops the BSN, the other the onderwijsnummer, at
    once. Either alone is fine; merged they leave a potential transfer with
    neither. The first wins; the other is refused: 409 student_changed when it
    was checked against the record before the first's change, 422 when after."""
    school = FlowSchool(helpdesk_api(scaled), "54RA", "Het Wijzigcollege")
    number = "654321"
    school.post("/students", {"student_number": number, "type": "potential_transfer",
                              "bsn": BSN, "onderwijsnummer": ONDERWIJSNUMMER,
                              "initials": "R.", "first_name": "Rens", "last_name": "Twee"})
    path = f"{API}/students/{number}"
    outcomes = collections.Counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for round_ in range(15):
            changes = [{"bsn": "", "first_name": f"Rens{round_}"},
                       {"onderwijsnummer": "", "last_name": f"Twee{round_}"}]
            answers = list(pool.map(lambda body: school.api.patch(path, token=school.admin,
                                                                  json=body), changes))
            codes = sorted(r.status_code for r in answers)
            refused = [r.json()["code"] for r in answers if r.status_code != 200]
            assert codes in ([200, 409], [200, 422]), [r.text for r in answers]
            assert refused[0] in ("student_changed", "bsn_required"), refused
            outcomes[refused[0]] += 1
            record = ok(school.api.get(path, token=school.admin))
            assert (record["bsn"] is None) != (record["onderwijsnummer"] is None), record
            ok(school.api.patch(path, token=school.admin,
                                json={"bsn": BSN, "onderwijsnummer": ONDERWIJSNUMMER}))
    assert sum(outcomes.values()) == 15, outcomes
    print(f"refusals of the second change: {dict(outcomes)}")


def test_archiving_one_account_twice_at_once_archives_it_once(scaled):
    """Both requests answer 200 (archiving is idempotent), the account is
    archived, and `user_archived` goes out once per round, not once per replica
    that saw the account still active."""
    school = FlowSchool(helpdesk_api(scaled), "55RA", "Het Archiefcollege")
    queue = probe_all(scaled.env["AMQP_URI"], ("users",))
    codes = [f"arch{n}" for n in range(10)]
    for code in codes:
        school.user(code, ["mentor"])
    drain(scaled.env["AMQP_URI"], queue, 1)  # the user_created events
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for code in codes:
            path = f"{API}/users/{code}/archive"
            answers = list(pool.map(lambda _: school.api.post(path, token=school.admin), "ab"))
            assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
            assert all(r.json()["archived"] for r in answers)
    archived = collections.Counter(
        b["data"]["code"] for b in drain(scaled.env["AMQP_URI"], queue, 3)
        if b["type"] == "user_archived")
    assert archived == {code: 1 for code in codes}, archived
