"""Reading dossiers: the standard's examples, and broken variants built from
them, each refused for the right reason. No broker, no database."""
import re

import pytest

from services.oso import checking, dossier_xml, validation
from services.oso.sources import DossierRequest

from tests.oso.oso_support import EXAMPLE_BSN, example_bytes, with_bsn


@pytest.fixture
def validator(standard_dir):
    return validation.validator_for(str(standard_dir))


def request_for(bsn, kind="bsn"):
    return DossierRequest(brin="00AB", delivery_point="1", key="k", number=bsn, kind=kind)


def check(content, validator, bsn):
    return checking.check_dossier(content, "test", validator, request_for(bsn))


def refused(content, validator, bsn="269326728"):
    with pytest.raises(dossier_xml.DossierRefused) as info:
        check(content, validator, bsn)
    return info.value


@pytest.mark.parametrize("name", sorted(EXAMPLE_BSN))
def test_every_example_parses_with_zero_official_messages(validator, name):
    got = check(example_bytes(name), validator, EXAMPLE_BSN[name])
    assert got.meldingen == []
    assert got.validation["official"] is True
    assert got.validation["xsd"] == "OSO_gegevensset_2019.1.xsd"
    student = got.data["student"]
    assert student["bsn"] == EXAMPLE_BSN[name]
    assert student["first_names"] == ["Björn", "Johannes", "Martinus", "Franciscus"]
    assert (student["first_name"], student["initials"], student["prefix"],
            student["last_name"]) == ("Daan", "L.J.M.F.", "van de", "Berg")
    assert student["date_of_birth"] == "2003-03-17"
    assert student["gender"] == "M"
    assert got.data["advice"]["advice"] == "40"
    assert got.data["advice"]["argumentation"] == "De leerling werkt hard."
    assert got.data["school"]["brin"] == "00YY"
    assert got.dossier_date.isoformat() == "2016-01-02"
    # secret numbers are left out, the others kept
    values = [c["value"] for c in student["communication"]]
    assert "9999999999" not in values and "geheim@geheim.geheim" not in values
    assert "0235257739" in values and "leerling@leerling.nl" in values
    assert student["addresses"][0]["postcode"] == "7311 BA"
    guardians = got.data["guardians"]
    assert [g["first_names"][0] for g in guardians][:2] == ["Pieter", "Tanja"]
    assert all("iban" not in g for g in guardians)
    assert "geheim@geheim.geheim" not in str(guardians)
    assert got.data["school_career"][0]["school_year"] == "2006-2007"


@pytest.mark.parametrize("name", ["Voorbeelddossier_OV_POVO_full.xml",
                                  "Voorbeelddossier_OV_POPO_full.xml"])
def test_full_examples_carry_tests_final_test_support_and_attachments(validator, name):
    got = check(example_bytes(name), validator, EXAMPLE_BSN[name])
    final = got.data["final_test"]
    assert final["participated"] is True
    result = final["results"][0]
    assert (result["kind"], result["standard_score"], result["advice"]) == \
        ("0011", "525", "vmbo kb/vmbo gl-tl")
    assert result["parts"][0]["domains"][0]["code"] == "8050"
    test = got.data["tests"][0]
    assert (test["code"], test["name"], test["date"]) == \
        ("DREM8", "Drempelonderzoek 678 2010 Technisch lezen", "2015-04-10")
    assert test["results"][0]["referentiescore"][0]["waarde"] == "87"
    support = got.data["support"]
    assert support["diagnoses"][0]["name"] == "Slechthorend en slechtziend"
    assert support["tlv"][0]["category"] == "L"
    assert got.data["absence"]["authorised_half_days"] == "12"
    # attachments: unpacked from their ZIP; the final test's report is a PNG
    atts = {a["filename"]: a for a in got.data["attachments"]}
    png = atts["cet_uitslag.png"]
    assert png["section"] == "final_test" and png["content_type"] == "image/png"
    assert got.contents[png["ref"]][:8] == b"\x89PNG\r\n\x1a\n"
    assert final["documents"][0]["attachment"] == png["ref"]
    assert got.contents[atts["verzuimrapport.txt"]["ref"]].startswith(b"")
    assert atts["opp.docx"]["size"] == 25036
    # a truncated ZIP in the example is kept as the ZIP it came as
    assert atts["Toelichting.pdf.zip"]["content_type"] == "application/zip"
    assert len(got.data["attachments"]) == 15


def test_address_secret_leaves_addresses_out(validator):
    content = example_bytes("Voorbeelddossier_OV_POVO_opt_out.xml").replace(
        b"<adresgeheim>false</adresgeheim>", b"<adresgeheim>true</adresgeheim>", 1)
    got = check(content, validator, "246263738")
    assert got.data["student"]["address_secret"] is True
    assert got.data["student"]["addresses"] == []
    assert got.data["student"]["address_abroad"] is None
    assert "Hoofdstraat" not in str(got.data["student"])


def test_lwoo_is_read(validator):
    content = example_bytes("Voorbeelddossier_OV_POVO_full.xml").replace(
        b"      </onderwijsondersteuning>",
        b"<lwoo><lwoo_ingangdatum>2015-08-01</lwoo_ingangdatum>"
        b"<lwoo_swvnummer>VO2301</lwoo_swvnummer>"
        b"<lwoo_beschikkingsnummer>B-77</lwoo_beschikkingsnummer></lwoo>"
        b"</onderwijsondersteuning>", 1)
    got = check(content, validator, "269326728")
    assert got.data["support"]["lwoo"]["decision_number"] == "B-77"


def test_missing_bsn_is_refused(validator):
    content = re.sub(rb"\s*<bsn>\d+</bsn>", b"", example_bytes("Voorbeelddossier_OV_POVO_full.xml"))
    exc = refused(content, validator)
    assert exc.code == "dossier_bsn_missing"
    assert "BSN" in exc.message


def test_other_bsn_than_the_worklist_is_refused(validator):
    content = example_bytes("Voorbeelddossier_OV_POVO_full.xml")
    exc = refused(content, validator, bsn="246263738")
    assert exc.code == "dossier_bsn_mismatch"
    assert "269326728" not in exc.message   # masked


def test_wrong_namespace_is_refused(validator):
    content = example_bytes("Voorbeelddossier_OV_POVO_full.xml").replace(
        b"oso_gegevensset/2019/dossier", b"oso_gegevensset/2018/dossier")
    exc = refused(content, validator)
    assert exc.code == "dossier_namespace_unknown"
    assert "2018" in exc.message


def test_xsd_failure_is_refused_and_says_why(validator):
    content = example_bytes("Voorbeelddossier_OV_POVO_full.xml").replace(
        b"<geboortedatum>2003-03-17</geboortedatum>", b"<geboortedatum>17-03-2003</geboortedatum>")
    exc = refused(content, validator)
    assert exc.code == "dossier_xsd_invalid"
    assert "geboortedatum" in exc.message and exc.details


def test_forbidden_category_with_data_is_refused(validator):
    # verzuim is present in the full example; mark its category VERBODEN
    content = example_bytes("Voorbeelddossier_OV_POVO_full.xml").replace(
        b"<cat_verzuim>OPTIONEEL</cat_verzuim>", b"<cat_verzuim>VERBODEN</cat_verzuim>")
    exc = refused(content, validator)
    assert exc.code == "dossier_category_forbidden"
    assert "Verzuim" in exc.message and "verboden" in exc.message
    # the official business rules say the same
    root = dossier_xml.read_xml(content)
    texts = [m["text"] for m in validator.meldingen(root)]
    assert any("Verzuim" in t and "verboden" in t for t in texts)


def test_opt_out_category_with_data_is_refused_too(standard_dir):
    content = example_bytes("Voorbeelddossier_OV_POVO_full.xml").replace(
        b"<cat_toetsresultaten>OPTIONEEL</cat_toetsresultaten>",
        b"<cat_toetsresultaten>OPT-UIT</cat_toetsresultaten>")
    exc = refused(content, None)   # the own parser refuses it without the standard too
    assert exc.code == "dossier_category_forbidden" and "Toetsresultaten" in exc.message


def test_not_xml_is_refused(validator):
    for content in (b"%PDF-1.4 dit is geen xml", b"<dossier><niet-gesloten>", b"   "):
        assert refused(content, validator).code == "dossier_not_xml"


def test_xml_bomb_is_refused_by_defusedxml(validator):
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<dossier xmlns="http://www.edustandaard.nl/oso_gegevensset/2019/dossier">&lol9;</dossier>"""
    exc = refused(bomb, validator)
    assert exc.code == "dossier_unsafe_xml"
    # an external entity (XXE) is refused the same way
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<dossier>&x;</dossier>')
    assert refused(xxe, validator).code == "dossier_unsafe_xml"


def test_without_the_standard_the_own_parser_applies_and_says_validation_is_off(standard_dir):
    got = check(example_bytes("Voorbeelddossier_OV_POVO_full.xml"), None, "269326728")
    assert got.validation["official"] is False
    assert "LEERLINGBUS_OSO_STANDARD_DIR" in got.validation["message"]
    assert got.data["student"]["last_name"] == "Berg"


def test_onderwijsnummer_dossier(validator):
    content = example_bytes("Voorbeelddossier_OV_POVO_opt_out.xml").replace(
        b"<bsn>246263738</bsn>", b"<onderwijsnummer>101010108</onderwijsnummer>")
    got = checking.check_dossier(content, "t", validator,
                                 request_for("101010108", "onderwijsnummer"))
    assert got.data["student"]["onderwijsnummer"] == "101010108"


def test_a_bsn_of_another_student_in_the_same_shape(validator):
    content = with_bsn(example_bytes("Voorbeelddossier_OV_POVO_opt_out.xml"), "111222333")
    assert check(content, validator, "111222333").data["student"]["bsn"] == "111222333"


def test_codes_get_readable_labels_and_unknown_codes_none(validator):
    from services.oso import codelists
    name = "Voorbeelddossier_OV_POVO_full.xml"
    data = check(example_bytes(name), validator, EXAMPLE_BSN[name]).data
    labels = codelists.labels_for(data)
    assert labels["advice.advice"] == "vmbo gemengde of theoretische leerweg"  # code 40
    assert labels["advice.student_wish"] == "havo"                              # code 50
    assert "advice.parents_wish" not in labels  # 42: not labelled, shown as the code
    assert labels["advice.profile"] == "plus"
    assert labels["student.gender"] == "man"
    assert labels["guardians.0.relation"] == "vader" and labels["guardians.4.relation"] == \
        "voogd"
    assert "guardians.1.relation" not in labels  # 6: not documented in the standard's files
    assert labels["student.addresses.0.kind"] == "woonadres (bezoekadres)"
    assert labels["student.communication.0.label"] == "privé"
    assert labels["metadata.transfer"] == "van primair naar voortgezet onderwijs"
    assert labels["metadata.categories.cat_vve"] == "mag niet worden meegeleverd"
    assert labels["final_test.results.0.kind"] == "Centrale Eindtoets (CET)"
    assert labels["final_test.results.0.exemption"] == "nee"
    assert labels["final_test.results.0.parts.0.domains.0.reference_level"] == "lager dan 1F"
    assert labels["school_career.0.year_group"] == "groep 1"
    # every label belongs to a value that is in the data
    for path in labels:
        value = data
        for part in path.split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        assert value not in (None, "")
    assert codelists.label("advice", "99") is None and codelists.label("nope", "1") is None
