"""Checking a fetched dossier before it is applied (no database).

Safe XML reading, the OSO root, official validation when configured, and the
student's number must be the one on the worklist.
"""
import datetime as dt
from dataclasses import dataclass, field

from services.common.ids import IdentifierError, mask, normalize_bsn, normalize_onderwijsnummer

from . import dossier as dossier_mod
from . import dossier_xml
from .helpers import parse_date


@dataclass
class Retrieved:
    content: bytes
    origin: str
    data: dict
    contents: dict
    meldingen: list
    validation: dict
    dossier_date: dt.date | None = None
    extra: dict = field(default_factory=dict)


def retrieve(source, validator, request, validation_off_reason=None):
    """Fetch, check and parse one dossier (no database). Raises SourceError
    when nothing came, DossierRefused when what came cannot be applied."""
    fetched = source.fetch(request)
    return check_dossier(fetched.content, fetched.origin, validator, request,
                         validation_off_reason)


def check_dossier(content, origin, validator, request, validation_off_reason=None):
    root = dossier_xml.read_xml(content)
    dossier_xml.check_root(root)
    if validator is not None:
        validator.check_xsd(root)
        meldingen = validator.meldingen(root)
        validation = {"official": True, **validator.description,
                      "message": (f"Officieel gevalideerd: {len(meldingen)} melding(en)."
                                  if meldingen else "Officieel gevalideerd: geen meldingen.")}
    else:
        meldingen = []
        validation = {"official": False, "message": validation_off_reason or (
            "Officiële validatie staat uit: de map met de OSO-standaard "
            "(LEERLINGBUS_OSO_STANDARD_DIR) is niet ingesteld. Het dossier is alleen met de "
            "eigen lezer van Leerlingbus gecontroleerd.")}
    data, contents = dossier_mod.parse_dossier(root)
    kind, number = dossier_mod.identifier(data)
    try:
        number = normalize_bsn(number) if kind == "bsn" else normalize_onderwijsnummer(number)
    except IdentifierError:
        raise dossier_xml.DossierRefused(
            "dossier_bsn_invalid",
            f"Het {'BSN' if kind == 'bsn' else 'onderwijsnummer'} in het dossier is ongeldig "
            f"(11-proef); het dossier is niet ingelezen.") from None
    if (kind, number) != (request.kind, request.number):
        label = "BSN" if request.kind == "bsn" else "onderwijsnummer"
        raise dossier_xml.DossierRefused(
            "dossier_bsn_mismatch",
            f"Het dossier is geweigerd: het {'BSN' if kind == 'bsn' else 'onderwijsnummer'} in "
            f"het dossier ({mask(number)}) is niet het {label} van de leerling op de werklijst "
            f"({mask(request.number)}). Het BSN bepaalt welke leerling het is.")
    return Retrieved(content=content, origin=origin, data=data, contents=contents,
                     meldingen=meldingen, validation=validation,
                     dossier_date=parse_date(data["metadata"].get("date")))
