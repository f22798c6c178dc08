"""Helpers shared by the oso use cases, and the health query."""
import datetime as dt


from services.common.errors import DomainError, error_item
from services.common.ids import IdentifierError
from services.common.outbox import utcnow

from . import rules
from .models import Audit


_RULE_STATUS = {"file_type_invalid": 415}


def parse_date(text):
    try:
        return dt.date.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def actor_code(actor):
    return (actor or {}).get("code")


def rule_error(exc: rules.RuleError):
    status = _RULE_STATUS.get(exc.code, 422)
    return DomainError(exc.code, exc.message, status=status, field=exc.field,
                       errors=[error_item(exc.code, exc.message, field=exc.field)])


def identifier_or_422(value, field_name="bsn"):
    try:
        return rules.student_identifier(value)
    except IdentifierError:
        msg = rules.identifier_message()
        raise DomainError("bsn_invalid", msg, status=422, field=field_name,
                          errors=[error_item("bsn_invalid", msg, field=field_name)]) from None


def record_audit(session, institution_id, actor, action, worklist_id=None, detail=None):
    session.add(Audit(institution_id=institution_id, worklist_id=worklist_id, at=utcnow(),
                      actor=actor_code(actor), action=action, detail=detail))


