"""Person name keys: ASCII folding (rigour), token equivalents, consonant skeletons for blocking and scoring."""

from __future__ import annotations

import re
from functools import lru_cache

from rigour.text.translit import ascii_text

_SPLIT = re.compile(r"[^a-z0-9]+")
_VOWELS = str.maketrans("", "", "aeiouyw")
_GLUE = {"abdul", "abd", "abdel", "abdal", "abdol", "abdur", "abdu", "ebdul"}


class NameKeys:
    """Turns a written name into comparable token lists, with a small table of equivalent spellings."""

    def __init__(self, equivalents: list[list[str]], stopwords: list[str]):
        self.canon = {v: group[0] for group in equivalents for v in group}
        self.stop = set(stopwords)
        self.tokens = lru_cache(maxsize=200_000)(self._tokens)

    def _tokens(self, name: str) -> tuple[str, ...]:
        folded = ascii_text(name).lower()
        out: list[str] = []
        glue = False
        for tok in _SPLIT.split(folded):
            if not tok or tok in self.stop:
                continue
            if len(tok) > 5 and tok[:2] in ("al", "el") and tok[2] not in "aeioul":
                tok = tok[2:]  # Aljabouri -> jabouri, as Al-Jabouri loses its article
            if glue:
                tok = out.pop() + tok  # Abdul Rahman -> abdulrahman
            glue = tok in _GLUE
            out.append(self.canon.get(tok, tok))
        if glue and len(out) > 1:
            out[-2:] = [out[-2] + out[-1]]
        return tuple(out)


@lru_cache(maxsize=200_000)
def skeleton(token: str) -> str:
    """First letter plus the consonants after it, doubled letters collapsed: muhammad and mhmd -> mhmd."""
    if not token:
        return ""
    rest = token[1:].translate(_VOWELS)
    out = token[0]
    for ch in rest:
        if ch != out[-1]:
            out += ch
    return out


def is_latin(text: str) -> bool:
    return all(ord(ch) < 0x250 for ch in text)


_DIGRAPHS = (("ph", "f"), ("kh", "k"), ("gh", "g"), ("xh", "j"), ("gj", "j"), ("sh", "s"), ("ch", "c"), ("th", "t"),
             ("dh", "d"), ("zh", "j"), ("dj", "j"), ("ck", "k"), ("x", "ks"), ("q", "k"), ("c", "k"), ("w", "v"))
_INNER_H = re.compile(r"(?<=.)h")
_VOWEL_RUN = re.compile(r"[aeiouy]+")
_REPEAT = re.compile(r"(.)\1+")


_SEARCH_FOLDS = tuple(pair for pair in _DIGRAPHS if pair != ("w", "v"))  # w stays a vowel: Awad / Aouad
_INITIAL_VOWEL = re.compile(r"^[aeiouy]")


@lru_cache(maxsize=200_000)
def sound_skeleton(token: str) -> str:
    """The consonant skeleton after folding spellings of one sound (kh/k, c/k, q/k, th/t, sh/s, ph/f, ...) and
    an opening vowel to a: Karwan and Carwan -> krn, Uthman and Othman -> atmn, Muhammad and mhmd -> mhmd,
    while Mehdi (mhd) stays apart from Mohammed."""
    for a, b in _SEARCH_FOLDS:
        if a in token:
            token = token.replace(a, b)
    return skeleton(_INITIAL_VOWEL.sub("a", token))


@lru_cache(maxsize=200_000)
def phonetic(token: str) -> str:
    """A loose sound key for one token: digraphs folded, an inner h dropped, every vowel run one 'a', repeats
    collapsed (Hosseini/Hoseyni -> hasana, Uthman/Othman -> atman, Karwan/Carwan -> karvan, Hoxha/Hodja -> haja)."""
    for a, b in _DIGRAPHS:
        if a in token:
            token = token.replace(a, b)
    token = _INNER_H.sub("", token)
    head = token[:1] if token[:1] == "y" else ""
    return head + _REPEAT.sub(r"\1", _VOWEL_RUN.sub("a", token[len(head):]))
