"""Reading administration CSV exports as plain functions: encodings,
delimiters, quoting, suggested fields (no broker, no database)."""
import codecs

import pytest

from services.common.errors import DomainError
from services.uploads import csvfile


@pytest.mark.parametrize("raw,encoding", [
    ("code;voornaam\n1;Zoë\n".encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + "code;voornaam\n1;Zoë\n".encode("utf-8"), "utf-8-sig"),
    ("code;voornaam\n1;Zoë\n2;Bénédicte\n".encode("cp1252"), "windows-1252"),
    ("code;voornaam\n1;Zoë\n".encode("utf-16"), "utf-16"),
])
def test_encodings_detected(raw, encoding):
    table = csvfile.parse(raw)
    assert table.encoding == encoding
    assert table.headers == ["code", "voornaam"] and table.rows[0][1][1] == "Zoë"


def test_encoding_given_wins_and_is_checked():
    raw = "code;naam\n1;Zoë\n".encode("cp1252")
    assert csvfile.parse(raw, encoding="cp1252").rows[0][1] == ["1", "Zoë"]
    with pytest.raises(DomainError) as info:
        csvfile.parse(raw, encoding="ascii")
    assert info.value.code == "encoding_invalid"


@pytest.mark.parametrize("text,delimiter", [
    ("code\tnaam\tklas\n1\tA, B\t4h\n2\tC; D\t4v\n", "\t"),
    ("code;naam;klas\n1;A, B;4h\n2;C;4v\n", ";"),
    ('code,naam,klas\n1,"A; B",4h\n2,C,4v\n', ","),
])
def test_delimiter_sniffed(text, delimiter):
    table = csvfile.parse(text.encode())
    assert table.delimiter == delimiter and len(table.headers) == 3
    assert all(len(values) == 3 for _n, values in table.rows)


def test_quoted_delimiters_and_line_breaks_and_record_numbers():
    text = 'code;naam;notitie\r\n1;"Berg; van den";"twee\r\nregels"\r\n\r\n2;Smit;""\r\n'
    table = csvfile.parse(text.encode(), delimiter=";")
    assert table.rows == [(2, ["1", "Berg; van den", "twee\r\nregels"]), (4, ["2", "Smit", ""])]
    with pytest.raises(DomainError) as info:
        csvfile.parse(b"a;b\n1;2\n", delimiter="|")
    assert info.value.code == "delimiter_invalid"


def test_limits_and_non_text():
    with pytest.raises(DomainError) as info:
        csvfile.parse(b"code\n" + b"1\n" * 11, max_rows=10)
    assert (info.value.status, info.value.code) == (422, "too_many_rows")
    with pytest.raises(DomainError) as info:
        csvfile.parse(b"PK\x03\x04....")
    assert (info.value.status, info.value.code) == (415, "not_csv")
    with pytest.raises(DomainError) as info:
        csvfile.parse(b"\n\n")
    assert info.value.code == "no_rows"


def test_suggestions_dutch_english_and_zermelo_names():
    zermelo = ["code", "firstName", "prefix", "lastName", "email", "isStudent"]
    assert csvfile.suggest_all("users", zermelo) == [
        "code", "first_name", "prefix", "last_name", "email", None]
    dutch = ["Leerlingnummer", "Roepnaam", "Tussenvoegsel", "Achternaam", "E-mailadres",
             "Geslacht", "Straat", "Huisnummer", "Postcode", "Woonplaats", "Voorletters"]
    assert csvfile.suggest_all("users", dutch) == [
        "code", "first_name", "prefix", "last_name", "email", "gender", "street",
        "house_number", "postcode", "city", "initials"]
    # a field is suggested for its first column only; near misses still match
    assert csvfile.suggest_all("users", ["Voornaam", "Roepnaam", "Achtrnaam"]) == [
        "first_name", None, "last_name"]
    parts = ["leerlingcode", "afdeling", "Pr%", "Profiel", "Opleiding", "Stamklas", "Leerpad",
             "LWOO", "departmentOfBranch"]
    assert csvfile.suggest_all("participations", parts) == [
        "student_number", "department", "forecast", "profile", "programme", "home_class",
        "learning_path", "lwoo", None]
