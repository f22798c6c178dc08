"""Institutions: create, list, read; the platform institution; upload codes;
the helpdesk's e-mail address."""
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import conflict, not_found
from services.common.outbox import utcnow
from services.common.paging import page_args

from . import institution_rules, rules
from .models import Institution, User
from .store import institution_dict, institution_or_404

PLATFORM_NAME = "Leerlingbus platform"


def _new_upload_code():
    return secrets.token_urlsafe(18)


def create_institution(uow, data):
    clean = institution_rules.check_institution(data)
    session = uow.session
    exists_msg = "Er bestaat al een instelling met dit BRIN-nummer."
    if session.execute(sa.select(Institution.id).where(Institution.brin == clean["brin"])).first():
        raise conflict("institution_exists", exists_msg, field="brin")
    inst = Institution(key=None, is_platform=False, upload_code=_new_upload_code(),
                       created_at=utcnow(), **clean)
    session.add(inst)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise conflict("institution_exists", exists_msg, field="brin") from None
    uow.add_event("institution_created", inst.id, {
        "institution_id": inst.id, "name": inst.name, "brin": inst.brin,
        "branch": inst.branch, "school_type": inst.school_type})
    uow.commit()
    return institution_dict(inst)


def list_institutions(uow, page=1, page_size=50):
    page, page_size = page_args(page, page_size)
    query = sa.select(Institution).where(Institution.is_platform.is_(False))
    total = uow.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = uow.session.execute(
        query.order_by(Institution.name, Institution.id)
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    return {"items": [institution_dict(i) for i in items], "total": total,
            "page": page, "page_size": page_size}


def get_institution(uow, institution_id):
    return institution_dict(institution_or_404(uow.session, institution_id))


def ensure_platform(uow):
    """The platform institution (key "platform"), created when missing."""
    session = uow.session
    query = sa.select(Institution).where(Institution.key == rules.PLATFORM_KEY)
    inst = session.execute(query).scalar_one_or_none()
    if inst is not None:
        return inst
    inst = Institution(key=rules.PLATFORM_KEY, name=PLATFORM_NAME, brin=None, branch=None,
                       school_type=None, is_platform=True, upload_code=_new_upload_code(),
                       created_at=utcnow())
    session.add(inst)
    try:
        uow.commit()
    except IntegrityError:  # created at the same moment by another process
        uow.rollback()
        inst = session.execute(query).scalar_one()
    return inst


def _school(session, institution_id):
    """A school institution (never the platform) or 404."""
    inst = institution_or_404(session, institution_id)
    if inst.is_platform:
        raise not_found("institution", "Instelling niet gevonden.")
    return inst


def get_upload_code(uow, institution_id):
    """The code with which anyone may send a student list for the institution
    (the public submission route)."""
    inst = _school(uow.session, institution_id)
    return {"institution_id": inst.id, "upload_code": inst.upload_code}


def rotate_upload_code(uow, institution_id):
    """A new upload code; the old one stops working at once."""
    inst = _school(uow.session, institution_id)
    inst.upload_code = _new_upload_code()
    uow.add_event("upload_code_rotated", inst.id, {"institution_id": inst.id})
    uow.commit()
    return {"institution_id": inst.id, "upload_code": inst.upload_code}


def helpdesk_email(uow):
    """The e-mail address of the platform's `helpdesk` account (where notices
    for the helpdesk go), or None when the account has none, is archived or
    does not exist."""
    row = uow.session.execute(
        sa.select(User.email, User.archived_at).join(
            Institution, Institution.id == User.institution_id)
        .where(Institution.key == rules.PLATFORM_KEY, User.code == rules.HELPDESK_CODE)
    ).first()
    if row is None or row.archived_at is not None:
        return None
    return row.email or None


def institution_by_upload_code(uow, code):
    """The institution an upload code belongs to (id, name, school type), or
    404 for an unknown code or the platform's."""
    if not isinstance(code, str) or not code.strip() or len(code.strip()) > 64:
        raise not_found("institution", "Onbekende uploadcode.")
    inst = uow.session.execute(sa.select(Institution).where(
        Institution.upload_code == code.strip())).scalar_one_or_none()
    if inst is None or inst.is_platform:
        raise not_found("institution", "Onbekende uploadcode.")
    return {"id": inst.id, "name": inst.name, "school_type": inst.school_type}
