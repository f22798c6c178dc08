"""Readable Dutch labels for the codes an OSO dossier carries.

The OSO gegevensset names its values by code lists ("OSO codelijsten", a
file of the standard that is not among the files in the standard directory).
The labels here come from where they are documented:

- most lists from the standard's own XSD (OSO_gegevensset_2019.1.xsd), whose
  `implementatie` notes name codes with their meaning ("1 (=Vader), 2
  (=Moeder) en 3 (=Voogd)", "01 t/m 04 voor Lager dan 1F, 1F, 1S resp. 2F",
  …), and the XSLT's checks (which codes exist);
- list 2 (Advies VO, the school's advice) is DUO's code list of the advice for
  secondary education, whose main codes (10 … 60) are labelled here; the
  variants the XSLT also accepts (01, 22, 23, 32–35, 42–44, 52, 61, 70, 80)
  are not, and show as "code NN" until the list is checked against the
  official "OSO codelijsten" file.

A code without a label is shown as it is: never a guessed meaning.
`labels_for(data)` maps the dotted path of every coded value in a parsed
dossier (docs/oso.md, `data`) that has a label to that label, e.g.
{"advice.advice": "vmbo gemengde of theoretische leerweg"}.
"""

ADVICE = {  # codelijst 2, Advies VO
    "10": "praktijkonderwijs",
    "20": "vmbo basisberoepsgerichte leerweg",
    "21": "vmbo basis- of kaderberoepsgerichte leerweg",
    "30": "vmbo kaderberoepsgerichte leerweg",
    "31": "vmbo kaderberoepsgerichte of gemengde/theoretische leerweg",
    "40": "vmbo gemengde of theoretische leerweg",
    "41": "vmbo gemengde/theoretische leerweg of havo",
    "50": "havo",
    "51": "havo of vwo",
    "60": "vwo",
}

CODELISTS = {
    "advice": ADVICE,
    # 14 Geslacht
    "gender": {"0": "onbekend", "1": "vrouw", "2": "man", "M": "man", "V": "vrouw",
               "X": "onbekend"},
    # 41 Relatie tot kind
    "relation": {"1": "vader", "2": "moeder", "3": "voogd"},
    # 19 Soort adres
    "address_kind": {"bezoek": "woonadres (bezoekadres)", "post": "postadres",
                     "gba": "adres volgens de BRP (GBA)"},
    # 4 Communicatie soort, 5 Communicatie aanduiding
    "communication_kind": {"telefoon": "telefoon", "e-mail": "e-mail"},
    "communication_label": {"werk": "werk", "prive": "privé", "overig": "overig"},
    # 16 Soort overstap, 29 Overdrachtsoort
    "transfer": {"POVO": "van primair naar voortgezet onderwijs",
                 "POPO": "binnen het primair onderwijs"},
    "transfer_kind": {"overstapdossier": "overstapdossier",
                      "overdrachtbinnenbrin": "overdracht binnen hetzelfde BRIN",
                      "swv-dossier": "dossier voor het samenwerkingsverband"},
    # 48 Categorie uitlevering
    "category_state": {"VERPLICHT": "verplicht meegeleverd",
                       "OPTIONEEL": "meegeleverd naar keuze van de school",
                       "VERBODEN": "mag niet worden meegeleverd",
                       "OPT-UIT": "niet meegeleverd: de ouders maakten bezwaar"},
    # 37 Akkoord
    "agreed": {"Ja": "ja", "Nee": "nee", "Onbekend": "onbekend"},
    # 21 Profiel (bij het advies)
    "profile": {"basis": "basis", "plus": "plus", "bespreek": "bespreken",
                "disharmonisch": "disharmonisch"},
    # 42 Soort eindtoets, 43 Niveau eindtoets, 44 Wettelijke ontheffing
    "final_test_kind": {"0011": "Centrale Eindtoets (CET)", "0012": "Route 8",
                        "0013": "IEP Eindtoets"},
    "final_test_level": {"B": "basis", "E": "eenvoudig"},
    "exemption": {"J": "ja", "N": "nee"},
    # 45 Eindtoets referentieniveaus
    "reference_level": {"01": "lager dan 1F", "02": "1F", "03": "1S", "04": "2F"},
    # 46, 47 Eindtoets onderdeel- en domeincode (as far as documented)
    "final_test_part": {"8000": "Taal", "8001": "Rekenen"},
    "final_test_domain": {"8050": "Lezen", "8051": "Taalverzorging"},
    # 31 TLV bekostigingscategorie
    "tlv_category": {"Nvt": "niet van toepassing", "H": "hoog", "M": "middel", "L": "laag"},
    # 13 Jaargroepen - leerjaren
    "year_group": {"P": "peutergroep", "0": "groep 0", "S": "SBO/SO/VSO",
                   **{str(n): f"groep {n}" for n in range(1, 9)},
                   **{str(10 + n): f"VO leerjaar {n}" for n in range(1, 7)}},
    # 10 NNCA
    "nnca": {"0": "niet van toepassing", "1": "Nederlands", "2": "niet-Nederlands"},
}

def label(codelist, code):
    """The label of `code` in `codelist`, or None (unknown list or code)."""
    if code is None:
        return None
    return CODELISTS.get(codelist, {}).get(str(code).strip())


def labels_for(data):
    """{dotted path: label} for every coded value in a parsed dossier that
    has a label. Paths follow `data`: lists by index ("guardians.0.relation")."""
    out = {}
    data = data if isinstance(data, dict) else {}

    def put(path, codelist, code):
        found = label(codelist, code)
        if found is not None:
            out[path] = found

    def each(value):
        return enumerate(value) if isinstance(value, list) else ()

    def contacts(prefix, person):
        for i, address in each(person.get("addresses")):
            if isinstance(address, dict):
                put(f"{prefix}.addresses.{i}.kind", "address_kind", address.get("kind"))
        for i, item in each(person.get("communication")):
            if isinstance(item, dict):
                put(f"{prefix}.communication.{i}.kind", "communication_kind", item.get("kind"))
                put(f"{prefix}.communication.{i}.label", "communication_label",
                    item.get("label"))

    meta = data.get("metadata") or {}
    put("metadata.transfer", "transfer", meta.get("transfer"))
    put("metadata.kind", "transfer_kind", meta.get("kind"))
    for key, state in (meta.get("categories") or {}).items():
        put(f"metadata.categories.{key}", "category_state", state)
    review = meta.get("parent_review") or {}
    for key in ("agreed", "consent"):
        put(f"metadata.parent_review.{key}", "agreed", review.get(key))

    student = data.get("student") or {}
    put("student.gender", "gender", student.get("gender_code") or student.get("gender"))
    contacts("student", student)
    for i, guardian in each(data.get("guardians")):
        if isinstance(guardian, dict):
            put(f"guardians.{i}.relation", "relation", guardian.get("relation"))
            put(f"guardians.{i}.gender", "gender", guardian.get("gender"))
            contacts(f"guardians.{i}", guardian)
    contacts("school", data.get("school") or {})
    for i, year in each(data.get("school_career")):
        if isinstance(year, dict):
            put(f"school_career.{i}.year_group", "year_group", year.get("year_group"))

    advice = data.get("advice") or {}
    for key in ("advice", "parents_wish", "student_wish", "revised_advice"):
        put(f"advice.{key}", "advice", advice.get(key))
    put("advice.profile", "profile", advice.get("profile"))

    for i, tlv in each((data.get("support") or {}).get("tlv")):
        if isinstance(tlv, dict):
            put(f"support.tlv.{i}.category", "tlv_category", tlv.get("category"))

    for i, result in each((data.get("final_test") or {}).get("results")):
        if not isinstance(result, dict):
            continue
        base = f"final_test.results.{i}"
        put(f"{base}.kind", "final_test_kind", result.get("kind"))
        put(f"{base}.level", "final_test_level", result.get("level"))
        put(f"{base}.exemption", "exemption", result.get("exemption"))
        for j, part in each(result.get("parts")):
            if not isinstance(part, dict):
                continue
            put(f"{base}.parts.{j}.code", "final_test_part", part.get("code"))
            put(f"{base}.parts.{j}.reference_level", "reference_level",
                part.get("reference_level"))
            for k, domain in each(part.get("domains")):
                if isinstance(domain, dict):
                    put(f"{base}.parts.{j}.domains.{k}.code", "final_test_domain",
                        domain.get("code"))
                    put(f"{base}.parts.{j}.domains.{k}.reference_level", "reference_level",
                        domain.get("reference_level"))
    for i, test in each(data.get("tests")):
        if isinstance(test, dict):
            put(f"tests.{i}.year_group", "year_group", test.get("year_group"))
    return out
