"""Name parts per culture, and the ways agencies write them down (transliteration, script, order, typos)."""

from __future__ import annotations

import random

# Each entry: "Variant1|Variant2|...;ArabicScript1|ArabicScript2". The first variant is the most
# usual romanisation; lists run from common to rare so collisions (Mohammed Ahmed) happen often.
_ARABIC_M = """Mohammed|Muhammad|Mohamad|Mohamed|Mohammad|Muhammed;محمد|مُحَمَّد
Ahmed|Ahmad|Ahmet;أحمد|احمد
Ali|Aly;علي
Hussein|Husain|Hussain|Husayn|Hussien;حسين
Omar|Umar|Omer;عمر
Khalid|Khaled|Khalied;خالد
Abdullah|Abdallah|Abdulla|Abd Allah;عبدالله|عبد الله
Mahmoud|Mahmud|Mahmood;محمود
Youssef|Yusuf|Yousef|Yousif;يوسف
Ibrahim|Ebrahim|Ibraheem;إبراهيم|ابراهيم
Hassan|Hasan;حسن
Karim|Kareem;كريم
Mustafa|Mostafa|Moustafa;مصطفى
Salah|Salaheddine;صلاح
Adam|Adem;آدم
Osman|Othman|Uthman;عثمان"""
_ARABIC_F = """Fatima|Fatimah|Fatma;فاطمة
Aisha|Aysha|Aicha;عائشة
Maryam|Mariam|Meryem;مريم
Zainab|Zaynab|Zeinab;زينب
Noor|Nour|Nur;نور
Amal|Amel;أمل"""
_ARABIC_S = """Al-Karimi|Alkarimi|Karimi|al Karimi;الكريمي
Al-Jabouri|Al-Jaburi|Aljabouri|Jabouri;الجبوري
Hassan|Hasan;حسن
Ahmed|Ahmad;أحمد
Abdullah|Abdallah;عبدالله
Al-Obaidi|Al-Obeidi|Alobaidi|Obaidi;العبيدي
Al-Saadi|Alsaadi|Saadi;الساعدي
Mahmoud|Mahmud;محمود
Salih|Saleh|Salah;صالح
Ibrahim|Ebrahim;إبراهيم
Al-Tamimi|Altamimi|Tamimi;التميمي
Osman|Othman|Uthman;عثمان
Adam|Adem;آدم
Abakar|Abbakar|Abaker;أبكر"""

_SORANI_M = """Karwan|Karwn|Carwan;کاروان
Rebwar|Rebwer|Ribwar;ڕێبوار
Hemin|Hemn|Himin;هێمن
Shvan|Shwan|Shivan;شوان
Dler|Diler|Dlair;دلێر
Aram|Araam;ئارام
Bakhtiyar|Bakhtiar|Baxtiyar|Bakhtyar;بەختیار
Hawre|Hawri|Hawrey;هاوڕێ
Sherko|Shirko|Sherku;شێرکۆ
Azad|Azaad;ئازاد
Mohammed|Muhammad|Mihemed;محەمەد
Ahmed|Ahmad|Ehmed;ئەحمەد"""
_SORANI_F = """Shilan|Shelan|Chilan;شیلان
Nasrin|Nasreen|Nesrin;نەسرین
Shno|Shnow|Shnaw;شنۆ
Kazhal|Kajal|Kazhaal;کەژاڵ"""
_SORANI_S = """Ahmed|Ahmad|Ehmed;ئەحمەد
Rashid|Rasheed|Reshid;ڕەشید
Qadir|Kadir|Kader|Qader;قادر
Mahmood|Mahmud|Mahmoud;مەحمود
Aziz|Azeez;عەزیز
Hama|Hamah|Hamma;حەمە
Salih|Saleh;ساڵح
Karim|Kareem|Kerim;کەریم
Othman|Osman|Uthman;عوسمان
Mohammed|Muhammad|Mihemed;محەمەد
Abdulrahman|Abdul Rahman|Ebdulrehman;عەبدولڕەحمان"""

_KURMANJI_M = """Welat|Walat|Velat
Rojhat|Rojhad
Serhat|Serhad
Şêrko|Sherko|Serko
Berxwedan|Berhwedan
Azad|Azat
Mehmet|Mehmed|Muhammed
Xelîl|Khalil|Halil"""
_KURMANJI_F = """Dîlan|Dilan|Deelan
Rojda|Rojdah
Berfîn|Berfin"""
_KURMANJI_S = """Yıldız|Yildiz|Yilldiz
Demir|Demirr
Aydın|Aydin
Kaya|Kayah
Çelik|Celik|Chelik
Doğan|Dogan|Doghan
Öztürk|Ozturk|Oeztuerk"""

_PERSIAN_M = """Reza|Rezza;رضا
Ali|Aly;علی
Amir|Ameer;امیر
Mehdi|Mahdi|Mehdy;مهدی
Hossein|Hosein|Hussein|Hosseyn;حسین
Mohammad|Mohammed|Mohamad;محمد
Saeed|Said|Saied;سعید
Farhad|Farhaad;فرهاد
Arash|Arrash;آرش
Behzad|Behzod;بهزاد"""
_PERSIAN_F = """Maryam|Mariam;مریم
Zahra|Zahraa|Zehra;زهرا
Leila|Layla|Leyla;لیلا
Fatemeh|Fatima|Fateme;فاطمه"""
_PERSIAN_S = """Hosseini|Husseini|Hoseyni|Hosseyni;حسینی
Mohammadi|Mohamadi|Muhammadi;محمدی
Ahmadi|Ahmady;احمدی
Rezaei|Rezaee|Rezayi|Rezaie;رضایی
Karimi|Kareemi;کریمی
Moradi|Morady;مرادی
Jafari|Jafary|Jaafari;جعفری
Rahimi|Raheemi;رحیمی
Ghasemi|Qasemi|Kasemi|Ghassemi;قاسمی
Sadeghi|Sadeqi|Sadegi;صادقی"""

_PASHTO_M = """Ahmad|Ahmed|Ahmat;احمد
Mohammad|Mohammed|Muhammad;محمد
Abdul Rahman|Abdurrahman|Abdul-Rahman|Abdulrahman;عبدالرحمن
Gul|Gull|Gol;گل
Noor|Nur|Noorullah;نور
Zabihullah|Zabiullah|Zabihollah|Zabi;ذبیح‌الله|ذبیح الله
Hamid|Hameed|Hamed;حمید
Rahmatullah|Rahmatulla|Rahmat;رحمت‌الله
Naveed|Navid|Nawid;نوید
Wahid|Waheed|Wahed;وحید
Samiullah|Sami|Samiulla;سمیع‌الله
Jawad|Jawaad|Javad;جواد"""
_PASHTO_F = """Gulalai|Gulalay|Gul Alai;گلالۍ
Mariam|Maryam;مریم
Shabnam|Shabnum;شبنم"""
_PASHTO_S = """Ahmadzai|Ahmedzai|Ahmadzay;احمدزی
Sultani|Sultany|Soltani;سلطانی
Popal|Popalzai|Popalzay;پوپل
Stanikzai|Stanekzai|Stanakzai;ستانکزی
Mohammadi|Mohamadi|Muhammadi;محمدی
Rahimi|Raheemi;رحیمی
Safi|Saafi;صافی
Noori|Nuri|Noory;نوری
Hakimi|Hakeemi;حکیمی
Khan|Kahn;خان"""

_VIET_M = """Hùng|Hung
Minh|Minh
Tuấn|Tuan
Dũng|Dung
Đức|Duc
Long|Long
Nam|Nam
Thắng|Thang"""
_VIET_F = """Lan|Lan
Hương|Huong
Linh|Linh
Thảo|Thao
Ngọc|Ngoc"""
_VIET_MID_M = """Văn|Van
Đức|Duc
Minh|Minh
Quốc|Quoc"""
_VIET_MID_F = """Thị|Thi
Ngọc|Ngoc
Thu|Thu"""
_VIET_S = """Nguyễn|Nguyen|Nguyen
Trần|Tran
Lê|Le
Phạm|Pham
Hoàng|Hoang
Huỳnh|Huynh
Vũ|Vu
Đặng|Dang
Bùi|Bui
Đỗ|Do"""

_ALBANIAN_M = """Arben|Arbenn
Besnik|Besnick
Ermal|Ermall
Gentian|Gent|Gencian
Klodian|Klodjan
Arjan|Ardian
Dritan|Dritann
Endrit|Endri
Fatjon|Fatjona
Elton|Eltone"""
_ALBANIAN_F = """Ardita|Ardite
Blerina|Blerta
Elira|Elyra"""
_ALBANIAN_S = """Hoxha|Hoxa|Hodja|Hoxhaj
Shehu|Sheu
Gashi|Gashaj
Krasniqi|Krasniki|Krasnici
Berisha|Berishaj
Dervishi|Dervisi
Çela|Cela
Leka|Lekaj
Marku|Markaj
Kola|Kolaj"""

_TIGRINYA_M = """Tesfay|Tesfaye|Tesfai
Yonas|Yonatan|Yohannes
Filmon|Philmon|Filimon
Haile|Hayle|Hailu
Mebrahtu|Mebratu|Mehbrahtu
Kidane|Kidanie|Kidan
Berhane|Berhe|Brhane
Semere|Samuel|Smere
Dawit|Dawite|Dawitt
Tekle|Teklay|Teklai
Amanuel|Emmanuel|Amanual"""
_TIGRINYA_F = """Senait|Sennait|Snait
Helen|Hellen|Hellina
Luwam|Luam|Lwam
Saba|Sabba"""

_TURKISH_M = """Mehmet|Mehmed
Mustafa|Mustapha
Ahmet|Ahmed
Emre|Emreh
Murat|Murad
Hakan|Hakaan
Serkan|Sercan"""
_TURKISH_F = """Ayşe|Ayse
Elif|Eliff"""
_TURKISH_S = """Yılmaz|Yilmaz
Kaya|Kayah
Demir|Demirr
Şahin|Sahin
Çelik|Celik
Öztürk|Ozturk
Arslan|Aslan"""

_BRITISH_M = """James|Jamie
Daniel|Danny
Michael|Micheal
Thomas|Tom
Lee|Leigh
Craig|Kraig"""
_BRITISH_F = """Sarah|Sara
Emma|Ema"""
_BRITISH_S = """Smith|Smyth
Jones|Jone
Taylor|Tayler
Brown|Browne
Wilson|Willson
Evans|Evens"""


def _parse(block: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    out = []
    for line in block.strip().splitlines():
        latin, _, arabic = line.partition(";")
        out.append((tuple(latin.split("|")), tuple(arabic.split("|")) if arabic else ()))
    return out


class Culture:
    """A naming culture: name-part lists, naming habit, nationalities and phone countries."""

    def __init__(self, code, male, female, surnames, nationalities, *, patronymic=False,
                 family_first=False, middle_m=None, middle_f=None, single_name=0.0, phone_cc="GB"):
        self.code = code
        self.male = _parse(male)
        self.female = _parse(female)
        # Patronymic cultures (Tigrinya) use the father's given name as the family name.
        self.surnames = _parse(surnames) if surnames else self.male
        self.nationalities = nationalities
        self.patronymic = patronymic
        self.family_first = family_first
        self.middle_m = _parse(middle_m) if middle_m else None
        self.middle_f = _parse(middle_f) if middle_f else None
        self.single_name = single_name
        self.phone_cc = phone_cc


CULTURES: dict[str, Culture] = {c.code: c for c in [
    Culture("arabic", _ARABIC_M, _ARABIC_F, _ARABIC_S, ["IQ", "SY", "SD", "SY", "IQ", "SD", "EG", "KW"], phone_cc="IQ"),
    Culture("kurdish_sorani", _SORANI_M, _SORANI_F, _SORANI_S, ["IQ", "IQ", "IQ", "IR"], phone_cc="IQ"),
    Culture("kurdish_kurmanji", _KURMANJI_M, _KURMANJI_F, _KURMANJI_S, ["TR", "SY", "TR"], phone_cc="TR"),
    Culture("persian", _PERSIAN_M, _PERSIAN_F, _PERSIAN_S, ["IR"], phone_cc="IR"),
    Culture("pashto_dari", _PASHTO_M, _PASHTO_F, _PASHTO_S, ["AF"], single_name=0.35, phone_cc="AF"),
    Culture("vietnamese", _VIET_M, _VIET_F, _VIET_S, ["VN"], family_first=True,
            middle_m=_VIET_MID_M, middle_f=_VIET_MID_F, phone_cc="VN"),
    Culture("albanian", _ALBANIAN_M, _ALBANIAN_F, _ALBANIAN_S, ["AL"], phone_cc="AL"),
    Culture("tigrinya", _TIGRINYA_M, _TIGRINYA_F, "", ["ER", "ER", "ET"], patronymic=True, phone_cc="ER"),
    Culture("turkish", _TURKISH_M, _TURKISH_F, _TURKISH_S, ["TR"], phone_cc="TR"),
    Culture("british", _BRITISH_M, _BRITISH_F, _BRITISH_S, ["GB"], phone_cc="GB"),
]}

# Share of migrants by culture (roughly the nationalities of recent small-boat arrivals).
MIGRANT_MIX = [("pashto_dari", 22), ("persian", 12), ("kurdish_sorani", 15), ("tigrinya", 13),
               ("arabic", 18), ("vietnamese", 8), ("albanian", 5), ("kurdish_kurmanji", 5)]
# Smugglers: Iraqi Kurds and others, some Europeans for logistics and driving.
SMUGGLER_MIX = [("kurdish_sorani", 35), ("arabic", 12), ("pashto_dari", 8), ("persian", 6),
                ("vietnamese", 6), ("albanian", 10), ("kurdish_kurmanji", 8), ("turkish", 8), ("british", 7)]


def zipf_index(rng: random.Random, n: int) -> int:
    """An index into a list of n names, skewed so the first names are the most common."""
    # Inverse-CDF of a truncated 1/(k+1) law, cheap and deterministic.
    u = rng.random()
    k = int((n + 1) ** u) - 1
    return min(max(k, 0), n - 1)


class NameParts:
    """The true name of a person: indices into the culture's lists."""

    __slots__ = ("culture", "female", "given", "father", "family", "middle")

    def __init__(self, culture, female, given, father, family, middle):
        self.culture, self.female, self.given, self.father, self.family, self.middle = \
            culture, female, given, father, family, middle


def make_name(rng: random.Random, culture_code: str, female: bool, family: int | None = None,
              father: int | None = None) -> NameParts:
    """Draw a person's true name parts; relatives pass the family name (and father) they share."""
    c = CULTURES[culture_code]
    pool = c.female if female else c.male
    given = zipf_index(rng, len(pool))
    if father is None:
        father = zipf_index(rng, len(c.male))
    if family is None:
        family = father if c.patronymic else zipf_index(rng, len(c.surnames))
    middle = None
    if c.middle_m is not None:
        mids = c.middle_f if female else c.middle_m
        middle = rng.randrange(len(mids))
    if c.single_name and rng.random() < c.single_name:
        family = -1  # known by one name only (common for Afghans); father's name fills the gap
    return NameParts(culture_code, female, given, father, family, middle)


def true_parts(n: NameParts) -> tuple[str, str, str, str]:
    """(given, middle, family, father) in the culture's most usual romanisation."""
    c = CULTURES[n.culture]
    pool = c.female if n.female else c.male
    given = pool[n.given][0][0]
    middle = ""
    if n.middle is not None:
        middle = (c.middle_f if n.female else c.middle_m)[n.middle][0][0]
    family = c.surnames[n.family][0][0] if n.family >= 0 else ""
    father = c.male[n.father][0][0]
    return given, middle, family, father


def _pick(rng: random.Random, entry, canonical_bias: float, arabic: bool) -> str:
    latin, script = entry
    if arabic and script:
        return script[rng.randrange(len(script))]
    if len(latin) == 1 or rng.random() < canonical_bias:
        return latin[0]
    return latin[rng.randrange(1, len(latin))]


_TYPO_LETTERS = "aeiouhnrslmdt"


def typo(rng: random.Random, s: str) -> str:
    """One keyboard slip: drop, double, swap or replace a letter."""
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s) - 1)
    k = rng.randrange(4)
    if k == 0:
        return s[:i] + s[i + 1:]
    if k == 1:
        return s[:i] + s[i] + s[i:]
    if k == 2:
        return s[:i - 1] + s[i] + s[i - 1] + s[i + 1:]
    return s[:i] + _TYPO_LETTERS[rng.randrange(len(_TYPO_LETTERS))] + s[i + 1:]


def render(rng: random.Random, n: NameParts, *, bias: float = 0.55, arabic: float = 0.0,
           typo_rate: float = 0.03, with_father: float = 0.0) -> tuple[str, str]:
    """How one record writes the name: (given names, family name), each possibly varied."""
    c = CULTURES[n.culture]
    use_script = arabic > 0 and rng.random() < arabic
    pool = c.female if n.female else c.male
    given = _pick(rng, pool[n.given], bias, use_script)
    if n.middle is not None:
        mids = c.middle_f if n.female else c.middle_m
        given = given if rng.random() < 0.2 else f"{_pick(rng, mids[n.middle], bias, False)} {given}"
    if n.family >= 0:
        family = _pick(rng, c.surnames[n.family], bias, use_script)
    else:
        family = _pick(rng, c.male[n.father], bias, use_script) if rng.random() < 0.6 else ""
    if with_father and rng.random() < with_father and not c.patronymic and n.family >= 0:
        given = f"{given} {_pick(rng, c.male[n.father], bias, use_script)}"
    if n.culture == "vietnamese" and rng.random() < 0.5:
        given, family = strip_viet(given), strip_viet(family)
    if not use_script and typo_rate and rng.random() < typo_rate:
        if rng.random() < 0.5:
            given = typo(rng, given)
        else:
            family = typo(rng, family)
    return given, family


_VIET_TABLE = str.maketrans(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ",
    "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd"
    "AAAAAAAAAAAAAAAAAEEEEEEEEEEEIIIIIOOOOOOOOOOOOOOOOOUUUUUUUUUUUYYYYYD")


def strip_viet(s: str) -> str:
    """Vietnamese without diacritics, as most Western systems store it."""
    return s.translate(_VIET_TABLE)
