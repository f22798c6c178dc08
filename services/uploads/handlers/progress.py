"""The claims and progress of the background work on submissions (jobs.py):
validation, the helpdesk notice, loading, and work left behind."""
import datetime as dt

import sqlalchemy as sa

from services.common.outbox import utcnow

from ..models import Submission, submissions
from .submissions import load_submission, submission_dict, to_id


def claim(uow, submission_id, status, token, stale_seconds, now=None):
    """Take the submission for validating or loading when it is in `status`
    and nobody holds it (or the holder went quiet). The submission's snapshot
    as a dict, or None when someone else has it."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=stale_seconds)
    result = uow.session.execute(
        sa.update(submissions)
        .where(submissions.c.id == to_id(submission_id), submissions.c.status == status,
               sa.or_(submissions.c.claim.is_(None), submissions.c.claimed_at < cutoff))
        .values(claim=token, claimed_at=now, attempts=submissions.c.attempts + 1))
    if result.rowcount != 1:
        uow.rollback()
        return None
    uow.commit()
    sub = load_submission(uow.session, submission_id)
    data = submission_dict(sub, errors_limit=0)
    data["attempts"] = sub.attempts
    return data


def heartbeat(uow, submission_id, token, done=None):
    values = {"claimed_at": utcnow()}
    if done is not None:
        values["progress_done"] = done
    uow.session.execute(sa.update(submissions).where(
        submissions.c.id == submission_id, submissions.c.claim == token).values(**values))
    uow.commit()


def release(uow, submission_id, token):
    """Let go of a claim after a failure: the resume timer retries later."""
    uow.session.execute(sa.update(submissions).where(
        submissions.c.id == submission_id, submissions.c.claim == token)
        .values(claim=None, claimed_at=utcnow(), updated_at=utcnow()))
    uow.commit()


def finish_validation(uow, submission_id, token, rows, errors, error_count, conflicts):
    """The verdict: rejected with the errors, or awaiting_review. Only the
    claim holder may write it; returns the submission dict or None."""
    sub = load_submission(uow.session, submission_id)
    if sub.claim != token or sub.status != "validating":
        uow.rollback()
        return None
    now = utcnow()
    sub.status = "rejected" if error_count else "awaiting_review"
    sub.rows = rows
    sub.errors = errors
    sub.error_count = error_count
    sub.conflicts = conflicts
    sub.progress_done = rows
    sub.progress_total = rows
    sub.claim = None
    sub.claimed_at = None
    sub.updated_at = now
    uow.add_event("submission_validated", sub.institution_id, {
        "submission_id": sub.id, "status": sub.status, "rows": rows,
        "error_count": error_count})
    uow.commit()
    return submission_dict(sub, reviewer=True)


def claim_helpdesk_notice(uow, submission_id, now=None):
    """Mark that the helpdesk is told of this list awaiting review: the
    submission dict when this call marked it, None when it was marked before
    (a redelivered event) or the list is no longer awaiting review."""
    now = now or utcnow()
    result = uow.session.execute(
        sa.update(submissions).where(submissions.c.id == to_id(submission_id),
                                     submissions.c.status == "awaiting_review",
                                     submissions.c.helpdesk_notified_at.is_(None))
        .values(helpdesk_notified_at=now))
    if result.rowcount != 1:
        uow.rollback()
        return None
    uow.commit()
    return submission_dict(load_submission(uow.session, submission_id), errors_limit=0,
                           reviewer=True)


def helpdesk_notice_due(uow, submission_id):
    """The submission dict when the helpdesk still has to be told of it."""
    sub = uow.session.get(Submission, to_id(submission_id))
    if sub is None or sub.status != "awaiting_review" or sub.helpdesk_notified_at is not None:
        return None
    return submission_dict(sub, errors_limit=0, reviewer=True)


def set_report_ready(uow, submission_id):
    uow.session.execute(sa.update(submissions).where(submissions.c.id == submission_id)
                        .values(report_ready=True))
    uow.commit()


def load_progress(uow, submission_id, token, done, loaded, skipped, load_errors):
    result = uow.session.execute(
        sa.update(submissions).where(submissions.c.id == submission_id,
                                     submissions.c.claim == token,
                                     submissions.c.status == "loading")
        .values(progress_done=done, loaded=loaded, skipped=skipped, load_errors=load_errors,
                claimed_at=utcnow(), updated_at=utcnow()))
    uow.commit()
    return result.rowcount == 1


def finish_load(uow, submission_id, token, status, load_errors=None):
    sub = load_submission(uow.session, submission_id)
    if sub.claim != token or sub.status != "loading":
        uow.rollback()
        return None
    now = utcnow()
    sub.status = status
    sub.claim = None
    sub.claimed_at = None
    sub.updated_at = now
    if load_errors is not None:
        sub.load_errors = load_errors
    if status == "loaded":
        sub.loaded_at = now
        uow.add_event("submission_loaded", sub.institution_id, {
            "submission_id": sub.id, "loaded": sub.loaded, "skipped": sub.skipped})
    else:
        uow.add_event("submission_load_failed", sub.institution_id, {
            "submission_id": sub.id, "error_count": len(sub.load_errors or [])})
    uow.commit()
    return submission_dict(sub, reviewer=True)


def reject_unreadable(uow, submission_id, token):
    message = ("Het bestand kon niet worden gelezen. Sla het opnieuw op als Excel-werkmap "
               "(.xlsx) en stuur het nog eens op.")
    err = {"row": None, "column": None, "field": "file", "cell": None,
           "code": "file_unreadable", "message": message}
    return finish_validation(uow, submission_id, token, 0, [err], 1, [])


def stale_work(uow, stale_seconds, now=None, quiet_seconds=10):
    """Submissions whose background work stopped: validating or loading with
    no live claim (a lost event, a crashed worker, a failure released)."""
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=stale_seconds)
    quiet = now - dt.timedelta(seconds=quiet_seconds)
    rows = uow.session.execute(
        sa.select(submissions.c.id, submissions.c.status)
        .where(submissions.c.status.in_(("validating", "loading")),
               sa.or_(sa.and_(submissions.c.claim.is_(None),
                              submissions.c.updated_at < quiet,
                              sa.or_(submissions.c.claimed_at.is_(None),
                                     submissions.c.claimed_at < quiet)),
                      submissions.c.claimed_at < stale))
        .order_by(submissions.c.id).limit(20)).all()
    return [(r.id, r.status) for r in rows]
