"""Normalise one value by its FollowTheMoney property type, keeping the original and never dropping it.

FollowTheMoney drops values it cannot parse without a word; here every value comes back, either
normalised or as it was with a warning saying why it could not be normalised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

import phonenumbers
from followthemoney.types import registry

WHITESPACE = re.compile(r"\s+")
ISO_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
ISO_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")

# Result: (normalised value or None, warning or None). None means "keep the original".
Result = tuple[str | None, str | None]


def clean_text(value: str) -> str:
    """Unicode NFC, whitespace collapsed, ends trimmed."""
    if value.isascii() and value.isprintable() and "  " not in value:  # already clean but for the ends
        return value.strip()
    return WHITESPACE.sub(" ", unicodedata.normalize("NFC", value)).strip()


PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")
PHONE_INTERNATIONAL = re.compile(r"^(?:\+|00)([1-9]\d{6,16})$")
PHONE_NATIONAL = re.compile(r"^0([1-9]\d{5,14})$")


@lru_cache(maxsize=64)
def _trunk_zero_country(region: str) -> tuple[int, tuple[str, ...]] | None:
    """(country code, other national prefixes) of a region dialled nationally with 0 and abroad with 00."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.national_prefix != "0" or meta.international_prefix != "00":
        return None
    if meta.national_prefix_transform_rule is not None:
        return None
    alternatives = (meta.national_prefix_for_parsing or "0").split("|")
    if "0" not in alternatives or not all(a.isdigit() for a in alternatives):
        return None
    return meta.country_code, tuple(a for a in alternatives if a != "0")


@lru_cache(maxsize=512)
def _national_prefixes(code: int) -> tuple[str, ...] | None:
    """National prefixes phonenumbers would strip for this country code, or None if it rewrites numbers."""
    region = phonenumbers.region_code_for_country_code(code)
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if meta is None or meta.national_prefix_transform_rule is not None:
        return None
    alternatives = tuple(a for a in (meta.national_prefix_for_parsing or meta.national_prefix or "").split("|") if a)
    if not all(a.isdigit() for a in alternatives):
        return None
    return alternatives


@lru_cache(maxsize=512)
def _national_pattern(code: int) -> tuple[re.Pattern, frozenset[int]] | None:
    """The national number pattern of a country code, and the lengths phonenumbers' is_possible_number
    accepts for it (its possible lengths and local-only lengths, none when the first is -1)."""
    region = phonenumbers.region_code_for_country_code(code)
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    desc = meta.general_desc if meta else None
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset()
    if desc.possible_length and desc.possible_length[0] != -1:
        lengths = frozenset(desc.possible_length) | frozenset(desc.possible_length_local_only or ())
    return re.compile(desc.national_number_pattern), lengths


def _fast_e164(value: str, region: str) -> str | None:
    """E.164 for the plain spellings (+44…, 0044…, 07…) without phonenumbers' full parser, which costs ~70 µs.

    Only the country-code split and the possible-length check come from phonenumbers' metadata;
    anything unusual (letters, extensions, a 0 after the country code) returns None for the full parser.
    """
    digits = PHONE_PUNCTUATION.sub("", value)
    match = PHONE_INTERNATIONAL.match(digits)
    if match and digits[0] == "0" and _trunk_zero_country(region) is None:
        return None  # "00" means abroad only where the region dials abroad with 00
    if match:
        rest = match.group(1)
        for size in (1, 2, 3):
            code = int(rest[:size])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                national = rest[size:]
                break
        else:
            return None
    else:
        match = PHONE_NATIONAL.match(digits)
        trunk = _trunk_zero_country(region) if match else None
        if trunk is None or digits.startswith(trunk[1]):
            return None
        code, national = trunk[0], match.group(1)
    prefixes = _national_prefixes(code)
    if not national or national[0] == "0" or prefixes is None or national.startswith(prefixes):
        return None
    known = _national_pattern(code)
    if known is None or not known[0].fullmatch(national):
        return None
    if len(national) in known[1]:   # phonenumbers.is_possible_number, from its metadata (no leading 0 here)
        return f"+{code}{national}"
    return None


@lru_cache(maxsize=200_000)
def phone(value: str, region: str) -> Result:
    """E.164 from any of 07700 900123, +44 7700 900123, 0044…, (020) 7946 0000, using the agency's region."""
    fast = _fast_e164(value, region)
    if fast is not None:
        return fast, None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        return None, f"not a phone number ({exc._msg})"
    if not phonenumbers.is_possible_number(number):
        return None, f"not a possible phone number in region {region}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _precision_formats(fmt: str) -> list[tuple[str, int]]:
    """A day/month/year format and the partial formats it implies: %d/%m/%Y also reads 03/1985 and 1985."""
    formats = [(fmt, 3 if "%d" in fmt else 2 if re.search("%[mbB]", fmt) else 1)]
    if "%d" in fmt:
        month = re.sub(r"%d[^%]*|[^%]*%d$", "", fmt, count=1)
        formats.append((month, 2))
    if re.search("%[mbB]", fmt):
        formats.append(("%Y", 1))
    return formats


@lru_cache(maxsize=200_000)
def date(value: str, formats: tuple[str, ...] = ()) -> Result:
    """ISO date with its precision kept: 1985, 1985-03 or 1985-03-04; formats come from the mapping."""
    text = value.strip()
    iso = ISO_PARTIAL.match(text)
    if iso is None:
        stamp = ISO_DATETIME.match(text)
        if stamp:
            text = stamp.group(1)
            iso = ISO_PARTIAL.match(text)
    if iso:
        try:
            parts = [p for p in iso.groups() if p]
            datetime(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1)
            return "-".join(parts), None
        except ValueError:
            return None, "not a real calendar date"
    for fmt in formats:
        for partial, precision in _precision_formats(fmt):
            try:
                parsed = datetime.strptime(text, partial)
            except ValueError:
                continue
            return parsed.strftime(("%Y", "%Y-%m", "%Y-%m-%d")[precision - 1]), None
    cleaned = registry.date.clean(text)
    if cleaned:
        return cleaned, None
    hint = f" with format {' or '.join(formats)}" if formats else " (no format given in the mapping)"
    return None, f"unreadable date{hint}"


@lru_cache(maxsize=50_000)
def country(value: str) -> Result:
    cleaned = registry.country.clean(value)
    if cleaned:
        return cleaned, None
    return None, "not a recognised country"


@lru_cache(maxsize=100_000)
def by_registry(type_name: str, value: str) -> Result:
    prop_type = registry.get(type_name)
    if value.isascii() and value.isprintable():  # nothing for FtM's sanitising (NFC, unsafe characters) to do
        value = value.strip()
        cleaned = prop_type.clean_text(value) if value else None
    else:
        cleaned = prop_type.clean(value)
    if cleaned is None:
        return None, f"not a valid {type_name}"
    return cleaned, None


TEXT_TYPES = {"name", "string", "text", "address", "html"}


def normalise(type_name: str, value: str, region: str = "GB", formats: tuple[str, ...] = ()) -> Result:
    """Normalise a raw value of an FtM property type; (None, warning) when it cannot be."""
    return normaliser(type_name, formats)(value, region)


@lru_cache(maxsize=1024)
def normaliser(type_name: str, formats: tuple[str, ...] = (), cached: bool = True) -> Callable[[str, str], Result]:
    """The function (value, region) -> Result for one property type and date formats, chosen once per mapping.

    cached=False skips the module's own caches, for a caller that keeps one of its own (mapping plans).
    """
    if type_name in TEXT_TYPES:
        return _text
    plain = (lambda f: f) if cached else (lambda f: f.__wrapped__)
    if type_name == "phone":
        return plain(phone)
    if type_name == "date":
        parse = plain(date)
        return lambda value, _region: parse(value, formats)
    if type_name == "country":
        lookup = plain(country)
        return lambda value, _region: lookup(value)
    if type_name in ("entity", "json"):
        return _as_is
    clean = plain(by_registry)
    return lambda value, _region: clean(type_name, value)


def _text(value: str, _region: str) -> Result:
    return clean_text(value), None


def _as_is(value: str, _region: str) -> Result:
    return value, None
