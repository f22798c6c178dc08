"""The institution's upload code (the public student-list route): read it,
rotate it, find the institution by it. Over RabbitMQ and on the handlers."""
import json

import pytest
import sqlalchemy as sa
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.errors import DomainError
from services.users import institutions
from services.users.models import outbox
from services.users.service import UsersService


@pytest.fixture
def users_rpc(container_factory, service_config):
    container = container_factory(UsersService, service_config)
    container.start()
    with ServiceRpcProxy("users", service_config, timeout=60) as proxy:
        yield proxy


def test_rotate_and_look_up_over_rpc(users_rpc):
    institution = users_rpc.create_institution({"name": "Het Lyceum", "brin": "05KQ01",
                                           "school_type": "vo"})
    other = users_rpc.create_institution({"name": "Het College", "brin": "06AB",
                                          "school_type": "mbo"})
    code = users_rpc.get_upload_code(institution["id"])["upload_code"]
    assert code != users_rpc.get_upload_code(other["id"])["upload_code"]
    found = users_rpc.institution_by_upload_code(code)
    assert found == {"id": institution["id"], "name": "Het Lyceum", "school_type": "vo"}
    rotated = users_rpc.rotate_upload_code(institution["id"])
    assert rotated["institution_id"] == institution["id"] and rotated["upload_code"] != code
    assert users_rpc.get_upload_code(institution["id"]) == rotated
    with pytest.raises(DomainError) as info:
        users_rpc.institution_by_upload_code(code)  # the old code stops working at once
    assert info.value.status == 404
    assert users_rpc.institution_by_upload_code(rotated["upload_code"])["id"] == institution["id"]
    for bad in ("", None, "x" * 65, 12):
        with pytest.raises(DomainError) as info:
            users_rpc.institution_by_upload_code(bad)
        assert info.value.status == 404
    with pytest.raises(DomainError) as info:
        users_rpc.rotate_upload_code(99999)
    assert info.value.status == 404


def test_the_platform_has_no_usable_upload_code(uow, users_db):
    with uow() as u:
        platform = institutions.ensure_platform(u)
        platform_id, platform_code = platform.id, platform.upload_code
    with uow() as u:
        with pytest.raises(DomainError) as info:
            institutions.institution_by_upload_code(u, platform_code)
        assert info.value.status == 404
    with uow() as u:
        with pytest.raises(DomainError):
            institutions.rotate_upload_code(u, platform_id)


def test_rotation_is_an_event_without_the_code(uow, users_db, institution):
    with uow() as u:
        new = institutions.rotate_upload_code(u, institution["id"])["upload_code"]
    with users_db.session_factory() as session:
        bodies = [json.loads(b) for (b,) in session.execute(
            sa.select(outbox.c.body).where(outbox.c.event_type == "upload_code_rotated"))]
    assert [b["data"] for b in bodies] == [{"institution_id": institution["id"]}]
    assert new not in json.dumps(bodies)
