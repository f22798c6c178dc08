"""The institution's delivery point (aanleverpunt) in Mijn OSO.

Use cases take an entered UnitOfWork (services/common/db.py), commit where they
change something and return plain JSON-able values.
"""
import sqlalchemy as sa

from services.common.errors import DomainError, error_item
from services.common.outbox import utcnow
from services.common.times import iso

from . import rules
from .helpers import actor_code, record_audit, rule_error
from .models import DeliveryPoint
from .sources import SourceError


def delivery_point_dict(dp):
    return {"id": dp.id, "number": dp.number, "key": rules.mask_key(dp.key), "brin": dp.brin,
            "registered_at": iso(dp.registered_at), "registered_by": dp.registered_by}


def list_delivery_points(uow, institution_id):
    dps = uow.session.execute(sa.select(DeliveryPoint).where(
        DeliveryPoint.institution_id == institution_id)).scalars().all()
    items = [delivery_point_dict(dp) for dp in dps]
    return {"items": items, "total": len(items), "page": 1, "page_size": max(len(items), 1)}


def _brin_mismatch(code, field, text):
    return DomainError(code, text, status=422, field=field,
                       errors=[error_item(code, text, field=field)])


def brin_of_key(source_factory):
    """(number, key) -> (brin or None, key as Mijn OSO shows it): the configured
    source's reading, or the BRIN in front of the key when no source is set up."""
    try:
        return source_factory().brin_of_key
    except SourceError:
        return lambda _number, key: rules.key_brin(key)


def register_delivery_point(uow, institution_id, institution, data, brin_of_key, actor=None):
    """Register (or replace) the institution's delivery point from `{number,
    key, brin?}`: the key as Mijn OSO shows it (or `<BRIN>-<key>`).

    `brin_of_key` (number, key) -> (brin or None, key as Mijn OSO shows it)
    tells which BRIN the key belongs to when it can. A BRIN given in the
    `brin` field or in front of the key must be the institution's; without
    either the key is taken to be the institution's. The stored key is the one
    Mijn OSO shows (without a BRIN in front)."""
    data = data if isinstance(data, dict) else {}
    try:
        number = rules.delivery_point_number(data.get("number"))
        key = str(data.get("key") or "").strip()
        if not key:
            raise rules.RuleError("required", "Het veld 'key' is verplicht.", field="key")
        claimed = rules.claimed_brin(data.get("brin"))
        key_brin, secret = brin_of_key(number, key)
    except rules.RuleError as exc:
        raise rule_error(exc) from None
    mine = rules.institution_brin(institution) or "(geen)"
    if claimed is not None and not rules.brin_matches(claimed, institution):
        raise _brin_mismatch(
            "brin_mismatch", "brin",
            f"Het BRIN-nummer {claimed} in het veld 'brin' is niet dat van deze school "
            f"({mine}). Laat het veld leeg of vul het BRIN-nummer van uw eigen school in.")
    if key_brin is not None and not rules.brin_matches(key_brin, institution):
        raise _brin_mismatch(
            "key_brin_mismatch", "key",
            f"De sleutel hoort bij BRIN {key_brin}, maar deze school heeft BRIN {mine}. "
            f"Gebruik de sleutel van het aanleverpunt van uw eigen school (Mijn OSO > "
            f"Aanleverpunten) en controleer of de BRIN-code in Leerlingbus klopt.")
    key = secret
    session = uow.session
    dp = session.execute(sa.select(DeliveryPoint).where(
        DeliveryPoint.institution_id == institution_id)).scalar_one_or_none()
    if dp is None:
        dp = DeliveryPoint(institution_id=institution_id)
        session.add(dp)
    dp.number, dp.key, dp.brin = number, key, rules.institution_brin(institution)[:6]
    dp.registered_at, dp.registered_by = utcnow(), actor_code(actor)
    record_audit(session, institution_id, actor, "delivery_point_registered", detail=f"nr {number}")
    session.flush()
    result = delivery_point_dict(dp)
    uow.commit()
    return result


def delivery_point_or_refuse(session, institution_id):
    dp = session.execute(sa.select(DeliveryPoint).where(
        DeliveryPoint.institution_id == institution_id)).scalar_one_or_none()
    if dp is None:
        raise DomainError(
            "delivery_point_missing",
            "Er is nog geen aanleverpunt geregistreerd, dus er kunnen geen OSO-dossiers worden "
            "opgehaald. Maak in Mijn OSO een aanleverpunt aan en registreer het nummer en de "
            "sleutel onder OSO > Aanleverpunt (POST /oso/delivery-points).", status=409)
    return dp
