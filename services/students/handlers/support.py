"""What the students use cases share: the health check, today's date, the BSN
audit, accounts at the users service (created, and discarded again when the
record fails), and the envelopes of events and their processed marks."""
import datetime as dt
import logging
from zoneinfo import ZoneInfo


from services.common import events
from services.common.errors import DomainError, conflict
from services.common.outbox import utcnow

from .. import lookups, rules
from ..models import BsnAudit, processed_events


log = logging.getLogger(__name__)

# Batch events carry up to this many records each.
EVENT_CHUNK = 500
# Accounts this service creates together with their record carry this origin in
# users' creation events, so the account reactions below skip them.
ORIGIN = "students"
try:
    LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
except Exception:  # pragma: no cover - no time zone database installed
    LOCAL_TZ = dt.timezone.utc


def today():
    """Today in the Netherlands (school years are Dutch)."""
    return dt.datetime.now(LOCAL_TZ).date()



def _release(uow):
    """End the read transaction so the connection goes back to the pool
    (objects stay loaded: expire_on_commit is off)."""
    uow.session.commit()


def _actor_fields(actor):
    if not isinstance(actor, dict):
        return None, None
    user_id = lookups.to_id(actor.get("user_id"))
    code = actor.get("code") if isinstance(actor.get("code"), str) else None
    return user_id, code


def _id_fields(bsn, onderwijsnummer):
    return ",".join(f for f, v in (("bsn", bsn), ("onderwijsnummer", onderwijsnummer)) if v)


def _audit(session, student, action, fields, actor, at=None):
    user_id, code = _actor_fields(actor)
    session.add(BsnAudit(institution_id=student.institution_id, student_id=student.id,
                         student_number=student.student_number, action=action,
                         fields=fields, actor_user_id=user_id, actor_code=code,
                         at=at or utcnow()))


def _registered_data(record, user_id):
    return {"student_number": record["student_number"], "user_id": user_id,
            "type": record["type"], "year_of_education": record["year_of_education"],
            "track": record["track"], "home_class": record["home_class"],
            "has_bsn": bool(record["bsn"]), "has_onderwijsnummer": bool(record["onderwijsnummer"])}


def _user_of(users, institution_id, number):
    found = users.get_users(institution_id, [number])
    return found[0] if found else None


def _conflict_from(exc, number=None):
    text = str(getattr(exc, "orig", exc)).lower()
    if "foreign key" in text:  # a project or department deleted meanwhile
        return conflict("placement_changed", rules.message("placement_changed"),
                        field="participation")
    if "bsn" in text:
        return conflict("bsn_exists", rules.bsn_exists_message(), field="bsn")
    return conflict("student_exists", rules.student_exists_message(number or ""),
                    field="student_number")


def _compensate(users, institution_id, numbers, batch_events=False):
    """Remove the accounts just created for a failed create (never raises)."""
    try:
        result = users.discard_users(institution_id, list(numbers), batch_events=batch_events)
        if result.get("kept"):
            log.error("compensation kept %d account(s) that could not be discarded",
                      len(result["kept"]))
    except Exception:
        log.exception("compensation failed: %d account(s) to discard by hand", len(numbers))


def _create_accounts(users, institution_id, numbers, create, *args, discard=None, **kwargs):
    """users.create_user(s); when the users service does not answer in time
    the accounts may or may not exist, so they are discarded before the 503
    goes back (discard only removes fresh, never-used accounts). `discard`:
    a function answering which of `numbers` may be discarded (default all)."""
    try:
        return create(*args, **kwargs)
    except DomainError as exc:
        if exc.code == "service_unavailable":
            _compensate(users, institution_id, discard() if discard else numbers,
                        batch_events=len(numbers) > 1)
        raise


def _event_parts(payload, expected_type):
    """(event_id, institution_id, data, occurred_at) of a well-formed envelope;
    PermanentEventError (the consumer parks it) otherwise."""
    env = events.parse_envelope(payload, expected_type)
    return env.event_id, env.institution_id, env.data, env.occurred_at


def _already_processed(session, event_id):
    return events.already_processed(session, processed_events, event_id)


def _mark_processed(uow, event_id):
    events.mark_processed(uow.session, processed_events, event_id)
    uow.commit()
