"""The oso rules without a broker or database: merge rules, the key and its
BRIN, worklist identifiers and the .xlsx worklist."""
import io

import pytest
from openpyxl import Workbook

from services.common.ids import IdentifierError
from services.oso import rules


def hard(**sections):
    base = {"metadata": {"date": "2016-01-02"}, "student": {}, "guardians": [], "school": {},
            "school_career": [], "advice": {}, "support": {}, "absence": {},
            "final_test": {}, "tests": [], "grade_lists": [], "other_documents": [],
            "attachments": []}
    base.update(sections)
    return base


OLD = hard(
    student={"last_name": "Berg", "prefix": " ", "initials": None, "first_names": ["Daan"]},
    advice={"advice": "40", "argumentation": " ", "attention_points": ""},
    tests=[{"ref": "t1", "name": "DREM8", "score": "87", "remark": None}],
    final_test={"participated": True, "results": [{"ref": "f1", "standard_score": "525"}],
                "documents": []},
)
NEW = hard(
    student={"last_name": "Bergh", "prefix": "van de", "initials": "D.", "first_names": ["X"]},
    advice={"advice": "50", "argumentation": "Werkt hard.", "attention_points": "Rekenen"},
    tests=[{"ref": "t1", "name": "DREM8", "score": "90", "remark": "herkansing"},
           {"ref": "t2", "name": "CITO", "score": "12", "remark": None}],
    final_test={"participated": True, "results": [{"ref": "f1", "standard_score": "540"}],
                "documents": [{"attachment": "a1", "filename": "cet.png"}]},
    attachments=[{"ref": "a1", "section": "final_test", "filename": "cet.png"}],
)


def test_import_takes_everything_the_first_time():
    result, outcome = rules.merge(None, NEW, "import")
    assert result == NEW and outcome["message"] == "Dossier ingelezen."


def test_import_of_an_imported_dossier_is_refused():
    with pytest.raises(rules.RuleError) as info:
        rules.merge(OLD, NEW, "import")
    assert info.value.code == "already_imported"


def test_supplement_fills_only_empty_hard_fields_and_a_space_counts_as_filled():
    result, outcome = rules.merge(OLD, NEW, "supplement")
    s = result["student"]
    assert s["last_name"] == "Berg"          # filled: kept
    assert s["prefix"] == " "                # a space is filled: kept
    assert s["initials"] == "D."             # None: filled
    assert s["first_names"] == ["Daan"]      # a filled list stays
    a = result["advice"]
    assert (a["advice"], a["argumentation"], a["attention_points"]) == ("40", " ", "Rekenen")
    # records are matched by their ref: t1 keeps its filled score, gets its empty remark,
    # t2 is added
    assert result["tests"] == [{"ref": "t1", "name": "DREM8", "score": "87",
                                "remark": "herkansing"},
                               {"ref": "t2", "name": "CITO", "score": "12", "remark": None}]
    assert result["final_test"]["results"][0]["standard_score"] == "525"
    assert result["final_test"]["documents"][0]["attachment"] == "a1"
    assert [m["ref"] for m in result["attachments"]] == ["a1"]
    assert outcome["filled"] == 5 and "aangevuld" in outcome["message"]
    assert OLD["student"]["initials"] is None   # the input is not changed


def test_overwrite_replaces_all_hard_data():
    result, outcome = rules.merge(OLD, NEW, "overwrite")
    for section in ("student", "advice", "tests", "final_test"):
        assert result[section] == NEW[section]
    assert "overschreven" in outcome["message"] and "bewaard" in outcome["message"]


def test_definitive_report_only_takes_final_test_data():
    result, outcome = rules.merge(OLD, NEW, "overwrite", definitive=True)
    assert result["final_test"] == NEW["final_test"]
    assert result["student"] == OLD["student"] and result["tests"] == OLD["tests"]
    assert outcome["changed"] == ["final_test"]
    assert "student" in outcome["kept"]
    assert "definitief" in outcome["message"] and "eindtoets" in outcome["message"]
    result, outcome = rules.merge(OLD, NEW, "supplement", definitive=True)
    assert result["final_test"]["results"][0]["standard_score"] == "525"
    assert result["final_test"]["documents"] == NEW["final_test"]["documents"]
    assert result["advice"] == OLD["advice"]
    assert "aangevuld" in outcome["message"]


def test_attachments_follow_the_data():
    old = hard(support={"documents": [{"attachment": "x"}]},
               attachments=[{"ref": "x", "section": "support", "filename": "a.pdf"}])
    new = hard(support={"documents": [{"attachment": "y"}]},
               attachments=[{"ref": "y", "section": "support", "filename": "b.pdf"}])
    over, _ = rules.merge(old, new, "overwrite")
    assert [m["ref"] for m in over["attachments"]] == ["y"]
    supp, _ = rules.merge(old, new, "supplement")
    assert [m["ref"] for m in supp["attachments"]] == ["x", "y"]


def test_is_empty():
    assert rules.is_empty(None) and rules.is_empty("") and rules.is_empty([])
    assert not rules.is_empty(" ") and not rules.is_empty("0") and not rules.is_empty(0)


def test_default_action():
    assert rules.default_action(False) == "import"
    assert rules.default_action(True) == "none"


def test_soft_data_is_validated():
    soft = rules.clean_soft({"functioning": "Werkt goed samen.",
                             "explanations": {"advice": "Besproken met ouders."}}, {})
    assert soft == {"functioning": "Werkt goed samen.",
                    "explanations": {"advice": "Besproken met ouders."}}
    with pytest.raises(rules.RuleError):
        rules.clean_soft({"explanations": {"nope": "x"}}, {})
    with pytest.raises(rules.RuleError):
        rules.clean_soft({"last_name": "x"}, {})


# -- key and BRIN -------------------------------------------------------------------

KEY = "018294B0-8DE2-4269-A422-E09C320A55C1"


def test_key_as_mijn_oso_shows_it_names_no_brin():
    assert rules.key_brin(KEY) == (None, KEY)
    assert rules.key_brin(f"  {KEY.lower()}\t") == (None, KEY.lower())
    # a first group of 4 or 6 characters that is no BRIN is part of the key
    assert rules.key_brin("ZZ99-018294B0-8DE2") == (None, "ZZ99-018294B0-8DE2")


def test_key_may_carry_its_brin_in_front():
    assert rules.key_brin("00AB-" + KEY) == ("00AB", KEY)
    assert rules.key_brin(" 00ab01:018294B0-8DE2 ") == ("00AB01", "018294B0-8DE2")
    assert rules.key_brin("00AB - " + KEY) == ("00AB", KEY)


@pytest.mark.parametrize("bad", ["", "   ", "kort", "00AB-kort", "sleutel met spaties",
                                 KEY + "!", "-" + KEY, "x" * 201])
def test_key_of_another_shape_is_refused(bad):
    with pytest.raises(rules.RuleError) as info:
        rules.key_brin(bad)
    assert info.value.code == "key_invalid" and info.value.field == "key"
    assert "Mijn OSO" in info.value.message


def test_claimed_brin():
    assert rules.claimed_brin(None) is None and rules.claimed_brin("  ") is None
    assert rules.claimed_brin(" 00ab ") == "00AB" and rules.claimed_brin("00ab01") == "00AB01"
    for bad in ("school", "0000", 12):
        with pytest.raises(rules.RuleError) as info:
            rules.claimed_brin(bad)
        assert info.value.code == "brin_invalid" and info.value.field == "brin"
        assert "'brin'" in info.value.message


def test_source_key_drops_a_stored_brin_prefix():
    assert rules.source_key(KEY) == KEY
    assert rules.source_key("00AB-" + KEY) == KEY      # stored before the prefix was optional
    assert rules.source_key("???") == "???"


def test_brin_matches():
    school = {"brin": "00AB", "branch": None}
    assert rules.brin_matches("00AB", school)
    assert not rules.brin_matches("01CD", school)
    branch = {"brin": "00AB", "branch": "01"}
    assert rules.brin_matches("00AB", branch) and rules.brin_matches("00AB01", branch)
    assert not rules.brin_matches("00AB02", branch)
    assert rules.brin_matches("00AB01", {"brin": "00AB01", "branch": None})
    assert not rules.brin_matches("00AB", {"brin": None})


def test_key_is_masked():
    assert rules.mask_key(KEY) == "*" * (len(KEY) - 4) + "55C1"


# -- identifiers and the worklist spreadsheet --------------------------------------------

def test_student_identifier():
    assert rules.student_identifier("020355889") == ("bsn", "020355889")
    assert rules.student_identifier(20355889) == ("bsn", "020355889")      # lost its zero
    assert rules.student_identifier(20355889.0) == ("bsn", "020355889")
    assert rules.student_identifier("101010108") == ("onderwijsnummer", "101010108")
    with pytest.raises(IdentifierError):
        rules.student_identifier("123456789")


def xlsx(rows, header="BSN"):
    wb = Workbook()
    ws = wb.active
    ws.append(["Naam", header])
    for row in rows:
        ws.append(["x", row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_worklist_xlsx_pads_reports_and_keeps_the_valid_ones():
    entries, errors = rules.read_worklist_xlsx(xlsx(
        [20355889, "080040676", "12345", None, "080040676", " 113478471 ", 101010108]))
    assert entries == [(2, "bsn", "020355889"), (3, "bsn", "080040676"),
                       (7, "bsn", "113478471"), (8, "onderwijsnummer", "101010108")]
    assert [(e["row"], e["code"]) for e in errors] == [(4, "bsn_invalid"), (6, "duplicate")]
    assert all(e["column"] == "BSN" for e in errors)


def test_worklist_xlsx_needs_a_bsn_column_and_an_xlsx():
    with pytest.raises(rules.RuleError) as info:
        rules.read_worklist_xlsx(xlsx(["020355889"], header="Burgerservicenummer"))
    assert info.value.code == "bsn_column_missing"
    with pytest.raises(rules.RuleError) as info:
        rules.read_worklist_xlsx(b"BSN\n020355889\n")
    assert info.value.code == "file_type_invalid"


def test_student_from_dossier():
    data = hard(student={"first_names": ["Björn", "Johannes"], "first_name": "Daan",
                         "initials": "B.J.", "prefix": "van de", "last_name": "Berg",
                         "date_of_birth": "2003-03-17", "gender": "M",
                         "communication": [{"kind": "telefoon", "value": "0612345678"},
                                           {"kind": "e-mail", "value": "daan@example.nl"}]})
    got = rules.student_from_dossier(data, "bsn", "269326728", "123456", "potential_transfer")
    assert got == {"student_number": "123456", "type": "potential_transfer",
                   "bsn": "269326728", "onderwijsnummer": None, "initials": "B.J.",
                   "first_name": "Daan", "prefix": "van de", "last_name": "Berg",
                   "date_of_birth": "2003-03-17", "gender": "M", "email": "daan@example.nl"}
