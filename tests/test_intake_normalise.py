"""Normalisation keeps what FollowTheMoney would drop, and the fast phone path agrees with phonenumbers."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.intake.normalise import clean_text, date, normalise, phone


def reference_e164(value: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_same_uk_mobile_in_four_spellings_is_one_number():
    spellings = ["07700 900123", "+44 7700 900123", "0044 7700 900123", "447700900123", "+44 (0)7700 900123",
                 "(07700) 900-123"]
    assert {phone(s, "GB")[0] for s in spellings} == {"+447700900123"}


@settings(max_examples=400, deadline=None)
@given(region=st.sampled_from(["GB", "FR", "DE", "IT", "IQ", "VN", "US", "AL"]),
       prefix=st.sampled_from(["", "0", "00", "+", "+44", "0044", "+33", "+39 0", "+964 ", "+84 0"]),
       digits=st.text(alphabet="0123456789", min_size=4, max_size=13),
       separator=st.sampled_from(["", " ", "-", ".", " (0) "]))
def test_fast_phone_path_agrees_with_phonenumbers(region, prefix, digits, separator):
    value = prefix + separator.join([digits[:3], digits[3:]])
    phone.cache_clear()
    assert phone(value, region)[0] == reference_e164(value, region)


def test_partial_dates_keep_their_precision():
    assert date("04/03/1985", ("%d/%m/%Y",))[0] == "1985-03-04"
    assert date("03/04/1985", ("%m/%d/%Y",))[0] == "1985-03-04"
    assert date("03/1985", ("%d/%m/%Y",))[0] == "1985-03"
    assert date("1985", ("%d.%m.%Y",))[0] == "1985"
    assert date("1985-03-04T10:00:00Z")[0] == "1985-03-04"
    value, warning = date("31/02/1985", ("%d/%m/%Y",))
    assert value is None and "unreadable date" in warning


def test_names_are_unicode_normalised_and_countries_become_codes():
    decomposed = "Nguye\u0302\u0303n  Va\u0306n"
    assert clean_text(decomposed) == "Nguyễn Văn"
    assert normalise("country", "Iraq")[0] == "iq" and normalise("country", "IRQ")[0] == "iq"
    value, warning = normalise("country", "Atlantis")
    assert value is None and warning
