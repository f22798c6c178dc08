"""Retention: the files of old submissions and imports are deleted (from the
file store and the working files alike), and incoming files nobody adopted."""
import datetime as dt

import sqlalchemy as sa

from services.common import filestore
from services.common.outbox import utcnow

from .. import storage
from ..models import submissions


def purge_files(uow, settings, now=None):
    """Delete the files (original, report, rows) of submissions and imports
    older than the retention; their records stay (purged_at is set)."""
    from ..models import Import, imports
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=settings.retention_days)
    session = uow.session
    subs = session.execute(sa.select(submissions.c.id).where(
        submissions.c.created_at < cutoff, submissions.c.purged_at.is_(None),
        submissions.c.status.notin_(("validating", "loading")))).scalars().all()
    for sid in subs:
        storage.forget_submission(settings, sid)
    if subs:
        session.execute(sa.update(submissions).where(submissions.c.id.in_(subs))
                        .values(purged_at=now, report_ready=False))
    imps = session.execute(sa.select(Import.id).where(
        Import.created_at < cutoff, Import.purged_at.is_(None))).scalars().all()
    for iid in imps:
        storage.forget_import(settings, iid)
    if imps:
        session.execute(sa.update(imports).where(imports.c.id.in_(imps)).values(purged_at=now))
    uow.commit()
    return {"submissions": len(subs), "imports": len(imps)}


def sweep_orphans(settings):
    """Incoming and outgoing files older than `orphan_seconds` (an upload whose
    RPC failed or never came, a download the gateway never finished) are
    deleted: nothing keeps a file without its record."""
    return sum(settings.files.sweep(prefix, older_than=settings.orphan_seconds)
               for prefix in (filestore.INCOMING, filestore.OUTGOING))
