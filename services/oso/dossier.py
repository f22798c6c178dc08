"""Reading an OSO dossier (gegevensset 2019.1) into the data a receiving school uses.

Pure functions, no database and no broker. dossier_xml.py reads the bytes
safely; `parse_dossier` turns the tree into plain JSON-able data:

    {"metadata", "student", "guardians", "school", "school_career", "advice",
     "support", "absence", "final_test", "tests", "grade_lists",
     "other_documents", "attachments"}

plus the attachment contents (bytes) apart. Every refusal is a DossierRefused
with a stable code and a Dutch message saying why.

Personal-data choices made here (AVG): addresses of a person whose
`adresgeheim` is true are left out, and so is every communication entry
marked `geheim`; bank account numbers of guardians are not kept.
"""
import hashlib
from xml.etree.ElementTree import Element

from .dossier_xml import (DossierRefused, _Attachments, _bool, check_root, _child, _children,
                          _documents, _generic, _local, _path, _text)


# categorie_uitlevering → the elements that belong to that category (from the
# official business rules, ValideerOSOgegevensset_2019.1.xsl). Paths are below
# huidigeschool/leerling unless they start with "/".
CATEGORIES = {
    "cat_ouderinzage": ("Ouderinzage", ("/inzage",)),
    "cat_oudersverzorgers": ("Ouders/verzorgers",
                             ("verzorgersaansprakelijk", "verzorger", "aansprakelijkeinstelling")),
    "cat_vve": ("VVE", ("vanpeuterspeelzaal", "naampeuterspeelzaal", "voorschools",
                        "vroegschools")),
    "cat_schoolloopbaan": ("Schoolloopbaan", ("schoolloopbaanlijst",)),
    "cat_overstapadvies": ("Overstapadvies", ("overstapadvies",)),
    "cat_onderwijsondersteuning": (
        "Onderwijsondersteuning",
        tuple("onderwijsondersteuning/" + n for n in (
            "toelichting_onderwijsbehoeften", "diagnose", "medicijngebruik", "opp", "tlv",
            "arrangement_cluster12", "arrangement_pao", "lwoo", "rvc"))),
    "cat_verzuim": ("Verzuim", ("verzuim",)),
    "cat_eindtoetsbo": ("Eindtoets basisonderwijs", ("eindtoets_basisonderwijs",)),
    "cat_toetsresultaten": ("Toetsresultaten", ("toetslijst",)),
    "cat_handelingsplannen": ("Handelingsplannen", ("onderwijsondersteuning/handelingsplan",)),
    "cat_cijferlijsten": ("Cijferlijsten", ("cijferlijstlijst",)),
    "cat_vombo": ("VO/MBO-resultaten", ("bevorderd", "certificaat", "competenties",
                                        "examenresultaat", "overigvombo", "resultaatvakkenvo",
                                        "stage")),
    "cat_bijlagedocs": ("Bijlagedocumenten", ("overigdocumentlijst",)),
}

GENDER = {"1": "V", "2": "M"}   # codelijst 14: 0 onbekend, 1 vrouw, 2 man

# Sections of the hard data; FINAL_TEST is the one a definitive report still takes.
SECTIONS = ("metadata", "student", "guardians", "school", "school_career", "advice",
            "support", "absence", "final_test", "tests", "grade_lists", "other_documents")
FINAL_TEST = "final_test"


def _address(el):
    return {
        "kind": _text(el, "soortadres"), "street": _text(el, "straat"),
        "house_number": _text(el, "nummer"), "addition": _text(el, "toevoeging"),
        "postcode": _format_postcode(_text(el, "postcode")), "city": _text(el, "plaats"),
        "municipality": _text(el, "gemeente"), "country": _text(el, "land"),
        "country_name": (_child(el, "land").get("omschrijving")
                         if _child(el, "land") is not None else None),
    }


def _format_postcode(value):
    if value and len(value) == 6 and value[:4].isdigit() and value[4:].isalpha():
        return f"{value[:4]} {value[4:].upper()}"
    return value


def _addresses(person, secret=False):
    if secret:
        return []
    return [_address(a) for a in _children(_child(person, "adreslijst"), "adres")]


def _communication(person):
    """Telephone numbers and e-mail addresses; secret ones are left out."""
    out = []
    for c in _children(_child(person, "communicatielijst"), "communicatie"):
        if _bool(c, "geheim"):
            continue
        out.append({"kind": _text(c, "soort"), "label": _text(c, "aanduiding"),
                    "value": _text(c, "nummer"), "emergency": bool(_bool(c, "noodnummer"))})
    return out


def _names(person, first="voornaam"):
    return [t for t in (_text(v) for v in _children(person, first)) if t]


# --- the sections ---------------------------------------------------------------------

def _metadata(root):
    meta = _child(root, "metadata")
    cats = _child(meta, "categorie_uitlevering")
    return {
        "date": _text(meta, "datum"), "transfer": _text(meta, "overstap"),
        "part": _text(meta, "deeldossier"), "package": _text(meta, "pakketnaam"),
        "package_version": _text(meta, "pakketversie"),
        "standard_version": _text(meta, "standaardversie"),
        "validation_version": _text(meta, "validatieversie"),
        "kind": _text(root, "overdrachtsoort"),
        "categories": ({_local(c.tag): _text(c) for c in cats} if cats is not None else {}),
        "parent_review": _inspection(_child(root, "inzage")),
    }


def _inspection(el):
    if el is None:
        return None
    return {"provisional": _bool(el, "voorlopigdossier"), "reviewed": _bool(el, "inzage"),
            "review_date": _text(el, "inzagedatum"), "agreed": _text(el, "akkoord"),
            "reason_not_agreed": _text(el, "redennietakkoord"),
            "consent": _text(el, "toestemming")}


def _student(leerling):
    first_names = _names(leerling)
    call_name = _text(leerling, "roepnaam")
    secret = bool(_bool(leerling, "adresgeheim"))
    return {
        "first_names": first_names,
        "first_name": call_name or (first_names[0] if first_names else None),
        "call_name": call_name,
        "initials": _text(leerling, "voorletters-1"),
        "prefix": _text(leerling, "voorvoegsel"),
        "last_name": _text(leerling, "achternaam"),
        "date_of_birth": _text(leerling, "geboortedatum"),
        "gender": GENDER.get(_text(leerling, "geslacht") or ""),
        "gender_code": _text(leerling, "geslacht"),
        "address_secret": secret,
        "addresses": _addresses(leerling, secret),
        "address_abroad": None if secret else _text(leerling, "adresbuitenland"),
        "communication": _communication(leerling),
        "bsn": _text(leerling, "bsn"),
        "onderwijsnummer": _text(leerling, "onderwijsnummer"),
        "student_id": _text(leerling, "leerlingid"),
        "nationality": _text(leerling, "nationaliteit"),
        "country_of_birth": _text(leerling, "geboorteland"),
        "in_education_since": _text(leerling, "onderwijssinds"),
        "enrolment_date": _text(leerling, "datuminschrijving"),
        "deregistration_date": _text(leerling, "datumuitschrijving"),
        "weight": _text(leerling, "leerlinggewicht"),
    }


def _guardian(el):
    secret = bool(_bool(el, "adresgeheim"))
    return {
        "first_names": _names(el), "initials": _text(el, "voorletters-1"),
        "prefix": _text(el, "voorvoegsel"), "last_name": _text(el, "achternaam"),
        "gender": GENDER.get(_text(el, "geslacht") or ""),
        "relation": _text(el, "relatietotkind"),
        "legal_representative": _bool(el, "wettigevertegenwoordiger"),
        "deceased": _bool(el, "overleden"), "date_of_death": _text(el, "overlijdensdatum"),
        "address_secret": secret, "addresses": _addresses(el, secret),
        "communication": _communication(el),
    }


def _school(school):
    return {
        "name": _text(school, "naam"), "brin": _text(school, "brincode"),
        "branch": _text(school, "vestigingscode"),
        "delivery_point": _text(school, "aanleverpunt"), "kind": _text(school, "soort"),
        "type": _text(school, "type"), "director": _text(school, "naamdirecteur"),
        "website": _text(school, "website"), "addresses": _addresses(school),
        "communication": _communication(school),
    }


# Our key: the OSO element whose text it holds.
_CAREER_TEXTS = {
    "school_year": "schooljaar", "group_code": "groepscode", "group_name": "groepsnaam",
    "year_group": "jaargroep", "start_date": "begindatum", "end_date": "einddatum",
    "brin": "brincode", "branch": "vestigingscode", "school_kind": "schoolsoort",
    "school_type": "schooltype", "description": "schoolsoortomschrijving",
}
_ADVICE_TEXTS = {
    "advice": "advies", "parents_wish": "wensouders", "student_wish": "wensleerling",
    "revised_advice": "herzienadvies", "profile": "profiel", "argumentation": "argumentatie",
    "contact_person": "contactpersoon", "contact_phone": "contacttelefoon",
    "contact_email": "contactemail", "attention_points": "aandachtspunten",
}


def _texts(el, names):
    return {key: _text(el, name) for key, name in names.items()}


def _career(leerling):
    out = []
    for s in _children(_child(leerling, "schoolloopbaanlijst"), "schoolloopbaan"):
        item = _texts(s, _CAREER_TEXTS)
        item["ref"] = _ref("career", item["school_year"], item["start_date"], item["group_code"])
        out.append(item)
    return out


def _advice(leerling):
    a = _child(leerling, "overstapadvies")
    if a is None:
        return {}
    return {**_texts(a, _ADVICE_TEXTS), "contact_needed": _bool(a, "contactnodig")}


def _support(leerling, atts):
    o = _child(leerling, "onderwijsondersteuning")
    if o is None:
        return {}
    sec = "support"
    lwoo = _child(o, "lwoo")
    return {
        "lwoo": None if lwoo is None else {
            "start_date": _text(lwoo, "lwoo_ingangdatum"),
            "partnership": _text(lwoo, "lwoo_swvnummer"),
            "decision_number": _text(lwoo, "lwoo_beschikkingsnummer"),
            "end_date": _text(lwoo, "lwoo_einddatum"),
            "documents": _documents(lwoo, atts, sec)},
        "needs_explanation": [d for t in _children(o, "toelichting_onderwijsbehoeften")
                              for d in _documents(t, atts, sec)],
        "diagnoses": [{
            "codes": [c for c in (_text(x) for x in _children(d, "code")) if c],
            "name": _text(d, "naam"), "date": _text(d, "datum"), "by": _text(d, "doorwie"),
            "institution": _text(d, "instantie"), "documents": _documents(d, atts, sec),
        } for d in _children(o, "diagnose")],
        "medication": _bool(o, "medicijngebruik"),
        "action_plans": [{
            "start_date": _text(h, "startdatum"), "end_date": _text(h, "einddatum"),
            "focus": _text(h, "isgerichtop"), "documents": _documents(h, atts, sec),
        } for h in _children(o, "handelingsplan")],
        "development_plan": [{
            "start_date": _text(p, "opp_ingangdatum"), "end_date": _text(p, "opp_einddatum"),
            "documents": _documents(p, atts, sec),
        } for p in _children(o, "opp")],
        "tlv": [{
            "start_date": _text(t, "tlvingangdatum"), "partnership": _text(t, "tlvswvnummer"),
            "category": _text(t, "tlvcategorie"),
            "decision_number": _text(t, "tlvbeschikkingsnummer"),
            "end_date": _text(t, "tlveinddatum"), "documents": _documents(t, atts, sec),
        } for t in _children(o, "tlv")],
        "arrangements": [dict(_generic(x, atts, sec) or {}, kind=_local(x.tag))
                         for x in list(o) if _local(x.tag).startswith("arrangement")],
        "rvc": [_generic(x, atts, sec) for x in _children(o, "rvc")],
    }


def _absence(leerling, atts):
    v = _child(leerling, "verzuim")
    if v is None:
        return {}
    return {
        "authorised_half_days": _text(v, "dagdelengeoorloofd"),
        "unauthorised_half_days": _text(v, "dagdelenongeoorloofd"),
        "more_than_25_percent": _bool(v, "meerdan25percent"),
        "frequency": _text(v, "frequentie"),
        "attendance_officer_contacted": _bool(v, "contactleerplicht"),
        "documents": _documents(_child(v, "documentLijst"), atts, "absence"),
    }


def _final_test(leerling, atts):
    e = _child(leerling, "eindtoets_basisonderwijs")
    if e is None:
        return {}
    sec = FINAL_TEST
    results = []
    for r in _children(e, "eindtoetsresultaat"):
        item = {
            "kind": _text(r, "toetssoort"), "level": _text(r, "toetsniveau"),
            "description": _text(r, "toetsomschrijving"), "date": _text(r, "datum_afname"),
            "exemption": _text(r, "wettelijke_ontheffing"),
            "standard_score": _text(r, "standaardscore"), "advice": _text(r, "toets_advies"),
            "parts": [{
                "code": _text(p, "onderdeelcode"), "description": _text(p, "onderdeelomschrijving"),
                "reference_level": _text(p, "ond_referentieniveau"),
                "domains": [{"code": _text(d, "domeincode"),
                             "description": _text(d, "domeinomschrijving"),
                             "reference_level": _text(d, "dom_referentieniveau")}
                            for d in _children(_child(p, "domeinen"), "domein")],
            } for p in _children(_child(r, "onderdelen"), "onderdeel")],
        }
        item["ref"] = _ref("final", item["kind"], item["date"])
        results.append(item)
    return {"participated": _bool(e, "deelgenomen"), "results": results,
            "documents": _documents(e, atts, sec)}


def _tests(leerling, atts):
    out = []
    for t in _children(_child(leerling, "toetslijst"), "toets"):
        ident = _child(t, "toetsidentificatie")
        afname = _child(t, "afname")
        item = {
            "code": _text(ident, "eldtoetscode"), "subject": _text(ident, "leergebied"),
            "name": _text(ident, "toetsnaam"), "version": _text(ident, "toetsversie"),
            "date": _text(afname, "afnamedatum"), "year_group": _text(afname, "jaargroep"),
            "school_month": _text(afname, "dl"),
            "taken_by": _text(_child(afname, "afgenomendoor"), "naammedewerker"),
            "results": [_generic(r, atts, "tests") for r in _children(t, "resultaat")],
            "parts": [_generic(p, atts, "tests") for p in _children(t, "toetsonderdeel")],
            "remark": _text(t, "opmerking"),
        }
        item["ref"] = _ref("test", item["code"], item["name"], item["date"])
        out.append(item)
    return out


def _ref(*parts):
    return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:12]


# --- whole dossier --------------------------------------------------------------------

def check_categories(root):
    """A category marked VERBODEN (or OPT-UIT) must carry no data: such data
    may not reach the receiving school, so the dossier is refused."""
    cats = _child(_child(root, "metadata"), "categorie_uitlevering")
    if cats is None:
        return
    leerling = _path(root, "huidigeschool/leerling")
    found = []
    for cat, (label, paths) in CATEGORIES.items():
        mark = _text(cats, cat)
        if mark not in ("VERBODEN", "OPT-UIT"):
            continue
        for path in paths:
            node = _path(root, path[1:]) if path.startswith("/") else _path(leerling, path)
            if node is not None:
                found.append((label, mark))
                break
    if found:
        label, mark = found[0]
        state = "verboden" if mark == "VERBODEN" else "uitgezet (opt-out)"
        names = ", ".join(f"{lab} ({'verboden' if m == 'VERBODEN' else 'opt-out'})"
                          for lab, m in found)
        raise DossierRefused(
            "dossier_category_forbidden",
            f"Het dossier is geweigerd: de categorie '{label}' is {state}, maar het dossier "
            f"bevat er toch gegevens van. Betreft: {names}.",
            [{"category": lab, "mark": m} for lab, m in found])


def parse_dossier(root: Element):
    """(data, contents): the parsed hard data and {attachment ref: bytes}."""
    check_root(root)
    check_categories(root)
    school = _child(root, "huidigeschool")
    leerling = _child(school, "leerling")
    if leerling is None:
        raise DossierRefused("dossier_student_missing",
                             "Het dossier bevat geen leerling (huidigeschool/leerling ontbreekt).")
    atts = _Attachments()
    data = {
        "metadata": _metadata(root),
        "student": _student(leerling),
        "guardians": [_guardian(v) for v in _children(leerling, "verzorger")],
        "school": _school(school),
        "school_career": _career(leerling),
        "advice": _advice(leerling),
        "support": _support(leerling, atts),
        "absence": _absence(leerling, atts),
        "final_test": _final_test(leerling, atts),
        "tests": _tests(leerling, atts),
        "grade_lists": [_generic(c, atts, "grade_lists")
                        for c in _children(_child(leerling, "cijferlijstlijst"), "cijferlijst")],
        "other_documents": _documents(_child(leerling, "overigdocumentlijst"), atts,
                                      "other_documents"),
    }
    for i, g in enumerate(data["guardians"]):
        g["ref"] = _ref("guardian", g["last_name"], g["relation"], str(i))
    data["attachments"] = atts.meta
    return data, atts.contents


def identifier(data):
    """('bsn'|'onderwijsnummer', value) of the student in parsed data, or refuses."""
    student = data.get("student") or {}
    if student.get("bsn"):
        return "bsn", student["bsn"]
    if student.get("onderwijsnummer"):
        return "onderwijsnummer", student["onderwijsnummer"]
    raise DossierRefused(
        "dossier_bsn_missing",
        "Het dossier bevat geen BSN en geen onderwijsnummer van de leerling; het BSN is nodig "
        "om de leerling te herkennen. Vraag de school van herkomst het dossier opnieuw klaar "
        "te zetten met het BSN.")
