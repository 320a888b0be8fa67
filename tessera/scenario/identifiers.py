"""Synthetic identifiers (phones, plates, IBANs, engine serials, addresses) and how agencies write them."""

from __future__ import annotations

import datetime as dt
import random
import string

import phonenumbers

# Mobile prefixes (after the country code) and subscriber length per country.
_MOBILE = {
    "GB": (["7400", "7412", "7440", "7480", "7507", "7510", "7700", "7723", "7766", "7800", "7852", "7900", "7944", "7960"], 6),
    "FR": (["612", "623", "634", "645", "656", "667", "678", "689", "751", "762"], 6),
    "IQ": (["750", "751", "770", "771", "780", "790"], 7),
    "IR": (["912", "913", "917", "919", "935", "936"], 7),
    "AF": (["70", "72", "77", "78", "79"], 7),
    "VN": (["90", "91", "93", "98", "97"], 7),
    "AL": (["67", "68", "69"], 7),
    "ER": (["71", "72", "73"], 5),
    "TR": (["530", "532", "533", "542", "505", "555"], 7),
    "DE": (["151", "152", "160", "170", "176"], 8),
    "NL": (["61", "62", "63", "64", "65"], 7),
    "BE": (["470", "471", "472", "475", "477"], 6),
    "BG": (["87", "88", "89"], 7),
}
_CC = {"GB": "44", "FR": "33", "IQ": "964", "IR": "98", "AF": "93", "VN": "84", "AL": "355", "ER": "291",
       "TR": "90", "DE": "49", "NL": "31", "BE": "32", "BG": "359", "SY": "963", "SD": "249"}


def _valid_prefixes() -> dict[str, list[str]]:
    out = {}
    for country, (prefixes, n) in _MOBILE.items():
        ok = [p for p in prefixes
              if phonenumbers.is_valid_number(phonenumbers.parse(f"+{_CC[country]}{p}{'4' * n}"))]
        out[country] = ok or prefixes
    return out


VALID_MOBILE = _valid_prefixes()


def phone(rng: random.Random, country: str) -> str:
    """A plausible mobile number in E.164 for the country."""
    if country not in VALID_MOBILE:
        country = "GB"
    prefixes = VALID_MOBILE[country]
    n = _MOBILE[country][1]
    for _ in range(5):
        digits = "".join(str(rng.randrange(10)) for _ in range(n))
        number = f"+{_CC[country]}{prefixes[rng.randrange(len(prefixes))]}{digits}"
        if country != "AL" or phonenumbers.is_valid_number(phonenumbers.parse(number)):
            break  # only Albanian ranges have gaps among our prefixes
    return number


def render_phone(rng: random.Random, e164: str, home: str = "GB") -> str:
    """Write a number as a clerk of the given country might: national, +CC, 00CC, spaced or not."""
    if home == "GB" and e164.startswith("+44"):
        nat = "0" + e164[3:]
        k = rng.randrange(7)
        if k == 0:
            return f"{nat[:5]} {nat[5:]}"
        if k == 1:
            return f"+44 {e164[3:7]} {e164[7:]}"
        if k == 2:
            return "0044" + e164[3:]
        if k == 3:
            return e164[1:]
        if k == 4:
            return f"({nat[:5]}) {nat[5:]}"
        if k == 5:
            return nat
        return e164
    if home == "FR" and e164.startswith("+33"):
        nat = "0" + e164[3:]
        pairs = " ".join(nat[i:i + 2] for i in range(0, 10, 2))
        k = rng.randrange(5)
        if k == 0:
            return pairs
        if k == 1:
            return pairs.replace(" ", ".")
        if k == 2:
            return f"+33 {e164[3]} " + " ".join(e164[i:i + 2] for i in range(4, 12, 2))
        if k == 3:
            return "0033" + e164[3:]
        return nat
    k = rng.randrange(4)
    if k == 0:
        return "00" + e164[1:]
    if k == 1:
        cc = next((c for c in _CC.values() if e164[1:].startswith(c)), e164[1:3])
        return f"+{cc} {e164[1 + len(cc):]}"
    return e164


_UK_TOWNS = ["Luton", "Birmingham", "Manchester", "Leeds", "Bradford", "Coventry", "Peterborough",
             "Leicester", "Croydon", "Ilford", "Derby", "Stoke-on-Trent", "Sheffield", "Wolverhampton"]
_UK_STREETS = ["Mill Road", "Station Road", "Victoria Street", "Church Lane", "High Street", "Park Avenue",
               "Queens Road", "Albert Street", "Green Lane", "Grove Road", "King Street", "Manor Way"]
_HOTELS = ["Hotel", "Lodge", "House Hotel", "Inn", "Court Hotel"]
_HOTEL_NAMES = ["Bell", "Crown", "Park", "Royal", "Grand", "Oak", "Riverside", "Station", "Castle", "Swan"]


def uk_address(rng: random.Random) -> str:
    town = _UK_TOWNS[rng.randrange(len(_UK_TOWNS))]
    pc = f"{town[:2].upper()}{rng.randrange(1, 20)} {rng.randrange(1, 10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    return f"{rng.randrange(1, 240)} {_UK_STREETS[rng.randrange(len(_UK_STREETS))]}, {town} {pc}"


def hotel_address(rng: random.Random, i: int) -> str:
    """Asylum accommodation: one hotel houses many unrelated people."""
    r = random.Random(f"hotel:{i}")
    town = _UK_TOWNS[r.randrange(len(_UK_TOWNS))]
    return f"The {_HOTEL_NAMES[r.randrange(len(_HOTEL_NAMES))]} {_HOTELS[r.randrange(len(_HOTELS))]}, " \
           f"{r.randrange(1, 120)} {_UK_STREETS[r.randrange(len(_UK_STREETS))]}, {town}"


_FR_PLACES = ["Calais", "Loon-Plage", "Grande-Synthe", "Dunkerque", "Boulogne-sur-Mer", "Coquelles", "Marck"]


def fr_address(rng: random.Random) -> str:
    return f"{rng.randrange(1, 90)} rue {rng.choice(['de la Mer', 'Jean Jaurès', 'du Port', 'Victor Hugo', 'des Dunes'])}, " \
           f"{_FR_PLACES[rng.randrange(len(_FR_PLACES))]}"


_L = string.ascii_uppercase


def plate(rng: random.Random, country: str) -> str:
    """A number plate in the country's layout."""
    L = lambda k: "".join(_L[rng.randrange(26)] for _ in range(k))  # noqa: E731
    D = lambda k: "".join(str(rng.randrange(10)) for _ in range(k))  # noqa: E731
    if country == "GB":
        return f"{L(2)}{rng.randrange(10, 75)} {L(3)}"
    if country == "FR":
        return f"{L(2)}-{D(3)}-{L(2)}"
    if country == "DE":
        return f"{rng.choice(['DU', 'K', 'E', 'D', 'HH', 'B'])}-{L(2)} {D(4)}"
    if country == "BG":
        return f"{rng.choice(['CB', 'CA', 'PB', 'B'])} {D(4)} {L(2)}"
    if country == "NL":
        return f"{D(2)}-{L(3)}-{D(1)}"
    if country == "BE":
        return f"1-{L(3)}-{D(3)}"
    return f"{L(3)} {D(3)}"


def render_plate(rng: random.Random, p: str) -> str:
    """Plates lose spaces and dashes, or change case, from one system to the next."""
    k = rng.randrange(4)
    if k == 0:
        return p.replace(" ", "").replace("-", "")
    if k == 1:
        return p.lower() if rng.random() < 0.2 else p
    return p


def _iban(country: str, bban: str) -> str:
    num = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


def iban(rng: random.Random, country: str) -> str:
    """A structurally valid IBAN (checksum correct) for GB, DE, NL or BE."""
    D = lambda k: "".join(str(rng.randrange(10)) for _ in range(k))  # noqa: E731
    if country == "GB":
        return _iban("GB", rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MONZ"]) + D(14))
    if country == "NL":
        return _iban("NL", rng.choice(["ABNA", "INGB", "RABO"]) + D(10))
    if country == "BE":
        first = D(10)
        key = int(first) % 97 or 97
        return _iban("BE", f"{first}{key:02d}")
    return _iban("DE", D(18))


def render_iban(rng: random.Random, s: str) -> str:
    if rng.random() < 0.4:
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


_ENGINES = [("Yamaha 40HP", "6AH"), ("Yamaha 60HP", "6C5"), ("Mercury 40HP", "2B"), ("Tohatsu 50HP", "M50D2"),
            ("Suzuki 40HP", "04004F"), ("Parsun 40HP", "T40")]


def engine(rng: random.Random) -> tuple[str, str]:
    """(model, serial number) of an outboard engine."""
    model, prefix = _ENGINES[rng.randrange(len(_ENGINES))]
    return model, f"{prefix}-{rng.randrange(10**6, 10**7)}"


def boat_hin(rng: random.Random, country: str) -> str:
    """A hull identification number, the boat's registration."""
    return f"{country}-{''.join(_L[rng.randrange(26)] for _ in range(3))}{rng.randrange(10**4, 10**5)}" \
           f"{_L[rng.randrange(12)]}{rng.randrange(10)}{rng.randrange(18, 26)}"


# Beaches of Pas-de-Calais and Nord where boats launch or are intercepted.
BEACHES = [("Gravelines", 50.99, 2.12), ("Wimereux", 50.77, 1.61), ("Calais", 50.96, 1.85),
           ("Dunkerque", 51.05, 2.37), ("Boulogne-sur-Mer", 50.73, 1.59), ("Berck", 50.40, 1.56),
           ("Hardelot", 50.63, 1.58), ("Équihen-Plage", 50.68, 1.57), ("Sangatte", 50.94, 1.75),
           ("Le Portel", 50.71, 1.57), ("Bray-Dunes", 51.08, 2.52), ("Audresselles", 50.82, 1.59)]


def fmt_date(d: dt.date, style: str) -> str:
    """Write a date in one agency's habit: dmy, mdy, iso, dotted, year."""
    if style == "dmy":
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if style == "mdy":
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == "dot":
        return f"{d.day:02d}.{d.month:02d}.{d.year}"
    if style == "year":
        return str(d.year)
    return d.isoformat()


def noisy_dob(rng: random.Random, dob: dt.date, estimated: bool, *, swap: float = 0.03,
              missing: float = 0.03) -> dt.date | None:
    """The date of birth as recorded: estimated (1 January), day/month swapped, or missing."""
    r = rng.random()
    if r < missing:
        return None
    if estimated:
        return dt.date(dob.year, 1, 1)
    if r < missing + swap and dob.day <= 12 and dob.day != dob.month:
        return dt.date(dob.year, dob.day, dob.month)
    if r < missing + swap + 0.02:  # year off by one (age given, not date)
        return dt.date(dob.year + rng.choice((-1, 1)), dob.month, min(dob.day, 28))
    return dob
