"""Applying a checked dossier to the stored one (merge rules in rules.py)."""
import hashlib

import sqlalchemy as sa

from . import rules
from .models import Attachment, Dossier
from .worklist import dossier_of


def apply_dossier(session, entry, action, retrieved, now):
    d = dossier_of(session, entry.id)
    old = d.hard if d is not None else None
    definitive = bool(d.definitive) if d is not None else False
    hard, outcome = rules.merge(old, retrieved.data, action, definitive)
    if d is None:
        d = Dossier(institution_id=entry.institution_id, worklist_id=entry.id, soft={},
                    definitive=False, created_at=now)
        session.add(d)
    d.origin = retrieved.origin[:500]
    d.xml = retrieved.content
    d.xml_sha256 = hashlib.sha256(retrieved.content).hexdigest()
    d.validation, d.meldingen = retrieved.validation, retrieved.meldingen
    d.hard = hard
    d.dossier_date = retrieved.dossier_date
    d.applied_at, d.updated_at, d.last_action = now, now, action
    d.outcome = {k: v for k, v in outcome.items()}
    session.flush()
    # attachments: store what the data now refers to, drop what it no longer does
    wanted = {m["ref"]: m for m in hard.get("attachments") or []}
    stored = {a.ref: a for a in session.execute(sa.select(Attachment).where(
        Attachment.dossier_id == d.id)).scalars()}
    for ref, row in stored.items():
        if ref not in wanted:
            session.delete(row)
    for ref, meta in wanted.items():
        if ref in stored or ref not in retrieved.contents:
            continue
        session.add(Attachment(dossier_id=d.id, ref=ref, section=meta["section"],
                               filename=meta["filename"][:255],
                               description=meta.get("description"),
                               content_type=meta["content_type"], size=meta["size"],
                               content=retrieved.contents[ref]))
    session.flush()
    outcome["_dossier"] = d
    return outcome
