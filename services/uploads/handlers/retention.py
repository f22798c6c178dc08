"""Retention: the files of old submissions and imports are deleted."""
import datetime as dt

import sqlalchemy as sa

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
        storage.remove_dir(storage.submission_dir(settings.data_dir, sid))
    if subs:
        session.execute(sa.update(submissions).where(submissions.c.id.in_(subs))
                        .values(purged_at=now, report_ready=False))
    imps = session.execute(sa.select(Import.id).where(
        Import.created_at < cutoff, Import.purged_at.is_(None))).scalars().all()
    for iid in imps:
        storage.remove_dir(storage.import_dir(settings.data_dir, iid))
    if imps:
        session.execute(sa.update(imports).where(imports.c.id.in_(imps)).values(purged_at=now))
    uow.commit()
    return {"submissions": len(subs), "imports": len(imps)}
