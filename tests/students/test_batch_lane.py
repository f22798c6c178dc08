"""UnitOfWork.lane in create_students: a batch checks and writes its rows
holding the lane, and lets go of it while the users service makes the
accounts, so the batches of a list load pipeline with users instead of moving
in lock-step (docs/uploads.md, "Load"). Real, migrated users and students
databases; the users service called in-process (conftest.LocalUsers)."""
import eventlet
import pytest
from eventlet.semaphore import Semaphore

from services.students import handlers
from tests.students.test_students_handlers import World, batch_rows


@pytest.fixture
def world(students_db, users_db, users, institution):
    return World(students_db, users_db, users, institution)


class Users:
    """The users service, noting when it is called and whether the lane is
    free then; `meanwhile` runs right after the accounts are made."""

    def __init__(self, real, lane, order, meanwhile=None):
        self.real, self.lane, self.order, self.meanwhile = real, lane, order, meanwhile

    def create_users(self, *args, **kwargs):
        self.order.append(("users", self.lane.locked()))
        answer = self.real.create_users(*args, **kwargs)
        if self.meanwhile:
            self.meanwhile()
        return answer

    def __getattr__(self, name):
        return getattr(self.real, name)


def create(world, users, lane, rows, order):
    with world.sdb.uow() as uow:
        uow.lane = lane
        result = handlers.create_students(uow, users, world.iid, rows)
    order.append("written")
    return result


def test_a_batch_checks_its_rows_only_when_the_lane_is_free(world):
    lane, order = Semaphore(1), []
    lane.acquire()  # another batch is being checked
    users = Users(world.users, lane, order)
    thread = eventlet.spawn(create, world, users, lane,
                            batch_rows(3, with_participation=False), order)
    eventlet.sleep(0.05)
    assert order == []  # still waiting: nothing checked, no accounts asked for
    order.append("released")
    lane.release()
    assert thread.wait()["created"] == 3
    # the lane is free while users makes the accounts
    assert order == ["released", ("users", False), "written"]
    assert not lane.locked()


def test_a_batch_writes_its_rows_only_when_the_lane_is_free(world):
    lane, order = Semaphore(1), []

    def another_batch_takes_the_lane():
        lane.acquire()
        eventlet.spawn_after(0.05, lambda: (order.append("released"), lane.release()))

    users = Users(world.users, lane, order, meanwhile=another_batch_takes_the_lane)
    result = create(world, users, lane, batch_rows(3, with_participation=False), order)
    assert result["created"] == 3
    assert order == [("users", False), "released", "written"]


def test_a_department_gone_before_the_commit_refuses_the_whole_batch(world, students_db,
                                                                     users_db, monkeypatch):
    """The participations' foreign keys are checked at commit in a load
    (deferred on PostgreSQL): a department deleted after the batch was checked
    still refuses the batch whole, with its accounts discarded."""
    import sqlalchemy as sa

    from services.students.models import departments, participations, students
    from services.users.models import users as users_table
    from tests.students.test_resumable_creates import raises

    project = world.project()
    world.departments(project["id"])
    real = handlers.create_many._bulk_insert

    def department_deleted_meanwhile(uow, *args, **kwargs):
        with students_db.engine.begin() as conn:  # another request, committed
            conn.execute(sa.delete(departments).where(departments.c.code == "h4"))
        return real(uow, *args, **kwargs)

    monkeypatch.setattr(handlers.create_many, "_bulk_insert", department_deleted_meanwhile)
    with raises("placement_changed", 409):
        world.h(handlers.create_students, batch_rows(3), project_id=project["id"])
    assert students_db.count(students) == 0 and students_db.count(participations) == 0
    assert users_db.count(users_table) == 0  # the accounts were discarded
