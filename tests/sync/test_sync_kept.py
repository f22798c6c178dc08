"""The status kept on a real database (SQLite, or PostgreSQL when
LEERLINGBUS_TEST_POSTGRES_URL is set): after random sequences of snapshots,
portal changes announced by events (some redelivered, some out of order),
status refreshes and downloads, the kept status and per-student rows equal
the full comparison of the stored sides, and the stored portal read is the
portal as it is."""
import copy
import datetime as dt
import json
import random
import uuid

import pytest
import sqlalchemy as sa

from services.common.errors import DomainError
from services.sync import compare, download, incremental, kept, mutation_feed, refresh, rules
from services.sync import snapshots as cases
from services.sync.models import portal_reads, snapshots, stale_students, student_differences
from tests.helpers import Db

IID, PID = 3, 9
DEPARTMENTS = [("h4", "portal"), ("h5", "desktop"), ("v4", "portal")]
SUBJECTS = ["ne", "en", "wi", "na", "lo"]


class Portal:
    """The students and users services answering a state the test changes."""

    def __init__(self, rnd, size):
        self.rnd = rnd
        self.departments = [{"id": i + 1, "code": c, "year_of_education": 4,
                             "education": "havo", "home_class_authority": a}
                            for i, (c, a) in enumerate(DEPARTMENTS)]
        self.people = {}
        self.parts = {}  # (number, department) -> participation
        self.groups = {code: [] for code in ("h4.wi1", "h5.ne1", "v4.en1")}
        self.next_id = 1
        for i in range(size):
            number = str(1000 + i)
            self.people[number] = self.person(number)
            self.place(number, rnd.choice(DEPARTMENTS)[0])
            for code in rnd.sample(sorted(self.groups), rnd.randint(0, 2)):
                self.groups[code].append(number)

    def person(self, number):
        return {"code": number, "first_name": self.rnd.choice(["Daan", "Eva"]),
                "prefix": None, "last_name": "Berg", "gender": None,
                "street": self.rnd.choice([None, "Hoofdstraat"]), "house_number": None,
                "postcode": None, "city": None, "email": None, "initials": None}

    def place(self, number, department):
        self.parts[(number, department)] = {
            "id": self.next_id, "student_number": number, "department": department,
            "forecast": self.rnd.choice([None, 60, 100]), "lwoo": self.rnd.random() < 0.2,
            "home_class": self.rnd.choice([None, f"{department}a"]), "profile": None,
            "programme": None, "learning_path": None,
            "subjects": self.rnd.sample(SUBJECTS, self.rnd.randint(0, 3)),
            "exemptions": []}
        self.next_id += 1

    # -- the RPC methods sync calls ------------------------------------------------------
    def project_state(self, iid, pid):
        parts = sorted(self.parts.values(), key=lambda p: p["id"])
        numbers = sorted({p["student_number"] for p in parts})
        return {
            "project": {"id": PID, "school_year": "2026-2027"},
            "departments": copy.deepcopy(self.departments),
            "participations": [{k: v for k, v in p.items()
                                if k not in ("subjects", "exemptions")} for p in parts],
            "packages": [{"participation_id": p["id"], "student_number": p["student_number"],
                          "department": p["department"], "subjects": list(p["subjects"]),
                          "exemptions": list(p["exemptions"])} for p in parts],
            "groups": [{"id": i, "code": code, "department": code[:2], "kind": "cluster",
                        "subject": code[3:5], "student_numbers": sorted(members)}
                       for i, (code, members) in enumerate(sorted(self.groups.items()), 1)],
            "students": [{"student_number": n, "home_class": None, "type": "non_transfer",
                          "left_at": None} for n in numbers]}

    def get_users(self, iid, codes):
        return [copy.deepcopy(self.people[c]) for c in codes if c in self.people]

    def get_project(self, iid, pid):
        return {"id": pid}

    # -- changes, each with the event the portal would publish -------------------------
    def change(self):
        """Change something of one student: (source, event type, data)."""
        rnd = self.rnd
        number, department = rnd.choice(sorted(self.parts))
        part = self.parts[(number, department)]
        what = rnd.randrange(6)
        if what == 0:
            part["forecast"] = rnd.choice([None, 60, 80, 100])
            return "students", "participation_changed", {
                "project_id": PID, "student_number": number, "department": department,
                "changes": {"forecast": [None, part["forecast"]]}}
        if what == 1:
            part["subjects"] = rnd.sample(SUBJECTS, rnd.randint(0, 3))
            return "students", "package_changed", {
                "project_id": PID, "student_number": number, "department": department,
                "subjects": part["subjects"], "exemptions": []}
        if what == 2:
            code = rnd.choice(sorted(self.groups))
            members = set(self.groups[code]) ^ {number}
            self.groups[code] = sorted(members)
            return "students", "group_members_changed", {
                "project_id": PID, "code": code, "kind": "cluster", "department": code[:2],
                "added": [number] if number in members else [],
                "removed": [] if number in members else [number]}
        if what == 3:
            self.people[number]["street"] = rnd.choice([None, "Kerkweg", "Hoofdstraat"])
            return "users", "user_updated", {"code": number,
                                             "changes": {"street": [None, "x"]}}
        if what == 4 and len(self.parts) > 3:
            del self.parts[(number, department)]
            return "students", "participation_removed", {
                "project_id": PID, "student_number": number, "department": department,
                "reason": "deleted"}
        other = rnd.choice([c for c, _a in DEPARTMENTS])
        if (number, other) not in self.parts:
            self.place(number, other)
        return "students", "participation_created", {
            "project_id": PID, "student_number": number, "department": other}


def desktop_document(portal, rnd):
    """The desktop's snapshot: the portal's project with random differences."""
    view = rules.portal_view(portal.project_state(IID, PID),
                             portal.get_users(IID, sorted(portal.people)), [], "x")
    students, parts, packages = [], [], []
    for number, person in sorted(view["students"].items()):
        if rnd.random() < 0.1:
            continue
        record = {k: v for k, v in person.items() if k != "initials"}
        if rnd.random() < 0.2:
            record["street"] = "Oude straat"
        students.append(dict(record, student_number=number, properties={}))
        for department, part in sorted(view["participations"][number].items()):
            part = {k: v for k, v in part.items() if k != "id"}
            if rnd.random() < 0.2:
                part["forecast"] = 80
            parts.append(dict(part, student_number=number))
            package = view["packages"][number][department]
            packages.append({"student_number": number, "department": department,
                             "subjects": package["subjects"][:rnd.randint(0, 3)],
                             "exemptions": []})
    numbers = {s["student_number"] for s in students}
    groups = [{"code": code, "department": g["department"], "kind": "cluster",
               "subject": g["subject"],
               "student_numbers": [n for n in g["student_numbers"]
                                   if n in numbers and rnd.random() < 0.9]}
              for code, g in sorted(view["groups"].items())]
    students.append({"student_number": "9001", "first_name": "Nieuw", "properties": {}})
    return {"students": students, "participations": parts, "packages": packages,
            "groups": groups}


def stored(db):
    """(portal read, desktop, status kept, per-student rows) as stored."""
    with db.session_factory() as session:
        read = session.execute(sa.select(portal_reads)).one()
        snap = session.execute(sa.select(snapshots)).one()
        rows = {n: json.loads(f) for n, f in session.execute(
            sa.select(student_differences.c.student_number, student_differences.c.flags))}
    return json.loads(read.data), json.loads(snap.data), \
        json.loads(snap.status) if snap.status else None, rows


def check_kept(db, portal):
    P, D, status, rows = stored(db)
    assert status == compare.status(P, D)
    assert rows == incremental.student_flags(P, D)
    people = portal.get_users(IID, sorted(set(portal.people) | set(D["students"])))
    fresh = rules.portal_view(portal.project_state(IID, PID), people, D["students"],
                              P["as_of"])
    for key in ("students", "participations", "packages", "groups", "accounts"):
        assert P[key] == fresh[key], key


def event(source, event_type, data):
    return {"event_id": str(uuid.uuid4()), "type": event_type, "version": 1,
            "occurred_at": "2026-11-29T08:00:00+00:00", "institution_id": IID, "data": data}


@pytest.fixture
def db(make_db):
    db = Db(make_db("sync"), "sync")
    yield db
    db.engine.dispose()


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_status_follows_events_snapshots_and_downloads(db, seed):
    rnd = random.Random(seed)
    portal = Portal(rnd, 25)
    with db.uow() as uow:
        cases.put_snapshot(uow, portal, portal, IID, PID, desktop_document(portal, rnd))
    check_kept(db, portal)
    partial = 0
    for _step in range(25):
        action = rnd.random()
        if action < 0.6:
            deliveries = []
            for _ in range(rnd.randint(1, 3)):
                source, kind, data = portal.change()
                envelope = event(source, kind, data)
                deliveries += [(source, envelope)] * rnd.choice([1, 1, 2])  # redelivered
            rnd.shuffle(deliveries)  # and out of order
            for source, envelope in deliveries:
                with db.uow() as uow:
                    mutation_feed.on_event(uow, source, envelope)
            assert db.count(stale_students) > 0
            before = stored(db)[3]
            refresh.refresh_pending(db.uow, portal, portal)
            assert db.count(stale_students) == 0
            partial += stored(db)[3] != before
        elif action < 0.75:
            with db.uow() as uow:
                cases.put_snapshot(uow, portal, portal, IID, PID, desktop_document(portal, rnd))
        elif action < 0.85:
            portal.change()  # no event: status?refresh reads it
            with db.uow() as uow:
                answer = cases.status(uow, portal, portal, IID, PID, refresh=True)
            assert {c: answer[c] for c in rules.CATEGORIES} == stored(db)[2]
        else:
            category = rnd.choice(rules.DOWNLOADABLE)
            with db.uow() as uow:
                download.download(uow, portal, portal, IID, PID, category)
        check_kept(db, portal)
        with db.uow() as uow:  # GET status answers what is kept
            answer = cases.status(uow, portal, portal, IID, PID)
        assert {c: answer[c] for c in rules.CATEGORIES} == stored(db)[2]
    assert partial > 0


def test_a_read_that_started_earlier_is_not_adopted(db):
    """Two replicas reading the portal at once: the read that started later is
    kept, whichever is stored first; the marks of the other stay."""
    rnd = random.Random(5)
    portal = Portal(rnd, 10)
    with db.uow() as uow:
        cases.put_snapshot(uow, portal, portal, IID, PID, desktop_document(portal, rnd))
    P, D, _status, _rows = stored(db)
    with db.session_factory() as session:
        version = session.execute(sa.select(snapshots.c.updated_at)).scalar()
    later = dict(P, as_of=(dt.datetime.fromisoformat(P["as_of"])
                           + dt.timedelta(seconds=2)).isoformat())
    earlier = dict(P, as_of=(dt.datetime.fromisoformat(P["as_of"])
                             + dt.timedelta(seconds=1)).isoformat())
    with db.uow() as uow:
        source, kind, data = portal.change()
        mutation_feed.on_event(uow, source, event(source, kind, data))
    with db.session_factory() as session:
        marks = [i for (i,) in session.execute(sa.select(stale_students.c.id))]
    assert marks
    with db.uow() as uow:
        assert kept.adopt_read(uow, IID, PID, later, D, version) is not None
    with db.uow() as uow:
        assert kept.adopt_read(uow, IID, PID, earlier, D, version, marks) is None
    assert db.count(stale_students) == len(marks)  # not dropped by the read not adopted
    assert stored(db)[0]["as_of"] == later["as_of"]
    with db.uow() as uow:  # a read made for another version of the desktop
        assert kept.adopt_read(uow, IID, PID, dict(P, as_of="2999-01-01T00:00:00+00:00"),
                               D, version - dt.timedelta(seconds=1)) is None


def test_a_snapshot_stored_with_a_read_older_than_recorded_events_marks_the_project(db):
    """An event recorded after the upload's portal read started may have been
    read again and its marks dropped before the upload stored its older read:
    the upload marks the project stale again."""
    rnd = random.Random(6)
    portal = Portal(rnd, 8)
    with db.uow() as uow:
        cases.put_snapshot(uow, portal, portal, IID, PID, desktop_document(portal, rnd))
    assert db.count(stale_students) == 0
    with db.uow() as uow:
        source, kind, data = portal.change()
        mutation_feed.on_event(uow, source, event(source, kind, data))
    refresh.refresh_pending(db.uow, portal, portal)
    assert db.count(stale_students) == 0
    with db.uow() as uow:  # as if its read had started before that event
        session = uow.session
        refresh.mark_changed_since(session, IID, PID,
                                   (dt.datetime.now(dt.UTC)
                                    - dt.timedelta(seconds=1)).isoformat(),
                                   dt.datetime.now(dt.UTC))
        uow.commit()
    assert db.count(stale_students) == 1
    with db.uow() as uow:
        refresh.mark_changed_since(uow.session, IID, PID, (
            dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat(),
            dt.datetime.now(dt.UTC))
        uow.commit()
    assert db.count(stale_students) == 1  # nothing recorded since: no mark


def test_a_project_gone_from_the_portal_loses_its_marks_and_others_still_refresh(db):
    from services.common.errors import not_found

    rnd = random.Random(8)
    portal = Portal(rnd, 6)
    with db.uow() as uow:
        cases.put_snapshot(uow, portal, portal, IID, PID, desktop_document(portal, rnd))
        cases.put_snapshot(uow, portal, portal, IID, PID + 1, desktop_document(portal, rnd))

    class Gone:
        """The portal, with the first project deleted."""

        def __getattr__(self, name):
            return getattr(portal, name)

        def project_state(self, iid, pid):
            if pid == PID:
                raise not_found("project", "Niet gevonden.")
            return portal.project_state(iid, pid)

    gone = Gone()
    with db.uow() as uow:  # a user's change: no project named
        mutation_feed.on_event(uow, "users", event("users", "user_updated", {
            "code": "1000", "changes": {"street": [None, "x"]}}))
    with db.session_factory() as session:
        assert {p for (p,) in session.execute(sa.select(stale_students.c.project_id))} == \
            {PID, PID + 1}  # an event without project: every snapshot of the institution
    refresh.refresh_pending(db.uow, gone, gone)
    assert db.count(stale_students) == 0


def snapshot_then_one_change(db, seed, students):
    """A project's snapshot, then one portal change whose event is taken in."""
    rnd = random.Random(seed)
    portal = Portal(rnd, students)
    with db.uow() as uow:
        cases.put_snapshot(uow, portal, portal, IID, PID, desktop_document(portal, rnd))
    with db.uow() as uow:
        source, kind, data = portal.change()
        mutation_feed.on_event(uow, source, event(source, kind, data))
    return portal


def test_replicas_claim_the_marks_they_read_for(db):
    portal = snapshot_then_one_change(db, seed=9, students=6)

    class Down:
        """A portal that does not answer."""

        def __getattr__(self, name):
            return getattr(portal, name)

        def project_state(self, iid, pid):
            raise DomainError("service_unavailable", "De dienst students antwoordt niet.",
                              status=503)

    with db.uow() as uow, pytest.raises(DomainError):  # replica A claims, its read fails
        refresh.refresh_project(uow, Down(), portal, IID, PID, claim=True)
    with db.uow() as uow:  # and gave its claim back
        assert refresh.pending_projects(uow) == [(IID, PID)]
    with db.uow() as uow:  # replica A claims again; replica B finds nothing to read for
        ids = refresh._claim(uow, IID, PID, True)
    assert ids
    with db.uow() as uow:
        assert refresh.pending_projects(uow) == []
        assert refresh.refresh_project(uow, Down(), portal, IID, PID, claim=True) is None
    with db.uow() as uow:  # a refresh asked for reads for every mark, claimed or not
        assert cases.status(uow, portal, portal, IID, PID, refresh=True)
    assert db.count(stale_students) == 0


def test_two_replicas_and_a_busy_portal_end_with_the_portal_as_it_is(db):
    """Two replicas' timers, events arriving meanwhile (redelivered, out of
    order), slow portal reads and downloads, all interleaved: once the
    events stop and the marks are worked off, the kept status is the full
    comparison of the portal as it is."""
    import eventlet

    rnd = random.Random(11)
    portal = Portal(rnd, 20)
    with db.uow() as uow:
        cases.put_snapshot(uow, portal, portal, IID, PID, desktop_document(portal, rnd))

    class Slow:
        """The portal answering a while after it read its state: changes made
        meanwhile are not in the answer (but their events may be in)."""

        def __getattr__(self, name):
            return getattr(portal, name)

        def project_state(self, iid, pid):
            state = portal.project_state(iid, pid)
            eventlet.sleep(rnd.random() * 0.02)
            return state

    slow = Slow()
    done = []

    def portal_changes():
        pending = []
        for _ in range(30):
            source, kind, data = portal.change()
            pending += [(source, event(source, kind, data))] * rnd.choice([1, 2])
            if rnd.random() < 0.5:
                rnd.shuffle(pending)
                for source, envelope in pending:
                    with db.uow() as uow:
                        mutation_feed.on_event(uow, source, envelope)
                pending = []
            eventlet.sleep(rnd.random() * 0.01)
        for source, envelope in pending:
            with db.uow() as uow:
                mutation_feed.on_event(uow, source, envelope)
        done.append(True)

    def replica():
        while not done:
            refresh.refresh_pending(db.uow, slow, slow)
            eventlet.sleep(0.005)

    def scheduler():
        for _ in range(4):
            eventlet.sleep(0.03)
            with db.uow() as uow:
                download.download(uow, slow, slow, IID, PID, rnd.choice(rules.DOWNLOADABLE))

    threads = [eventlet.spawn(f) for f in (portal_changes, replica, replica, scheduler)]
    for thread in threads:
        thread.wait()
    for _ in range(5):  # the marks left are worked off
        refresh.refresh_pending(db.uow, portal, portal)
    assert db.count(stale_students) == 0
    check_kept(db, portal)


def test_an_event_arriving_while_the_portal_is_read_is_read_again(db):
    """The change lands after the portal read its state, its event before the
    read is adopted: the read adopted keeps the change's mark, the next run
    reads it."""
    portal = snapshot_then_one_change(db, seed=12, students=8)

    class Racing:
        def __getattr__(self, name):
            return getattr(portal, name)

        def project_state(self, iid, pid):
            state = portal.project_state(iid, pid)
            for _ in range(3):  # changes after the read, announced before it is adopted
                source, kind, data = portal.change()
                with db.uow() as uow:
                    mutation_feed.on_event(uow, source, event(source, kind, data))
            return state

    with db.uow() as uow:
        assert refresh.refresh_project(uow, Racing(), portal, IID, PID, claim=True)
    assert db.count(stale_students) > 0  # the later marks stay
    refresh.refresh_pending(db.uow, portal, portal)
    assert db.count(stale_students) == 0
    check_kept(db, portal)
