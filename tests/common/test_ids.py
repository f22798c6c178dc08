import pytest

from services.common.ids import (IdentifierError, mask, normalize_bsn,
                                 normalize_onderwijsnummer)


@pytest.mark.parametrize("value", [20355889, 20355889.0, "20355889", " 020355889 "])
def test_bsn_pads_what_excel_dropped(value):
    assert normalize_bsn(value) == "020355889"


@pytest.mark.parametrize("value", ["12", "0", "123456789", "1234567890", "abc", None, ""])
def test_bsn_refuses_short_long_and_failing_the_11_proef(value):
    with pytest.raises(IdentifierError) as info:
        normalize_bsn(value)
    assert info.value.code == "bsn_invalid"


def test_onderwijsnummer_is_nine_digits():
    assert normalize_onderwijsnummer("101222331") == "101222331"
    with pytest.raises(IdentifierError):
        normalize_onderwijsnummer("12")


def test_mask_keeps_last_four():
    assert mask("020355889") == "*****5889"
