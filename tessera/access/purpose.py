"""Stated purpose: which users must say why they look (rules in purpose.yml), and the check that refuses without."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

from tessera.access.policy import ROLES, User

RULES_ENV = "TESSERA_PURPOSE_RULES"
DEFAULT_RULES = Path(__file__).with_name("purpose.yml")
MAX_PURPOSE = 1000


class PurposeRequired(Exception):
    """The user's role requires a stated purpose and none was given."""


@lru_cache(maxsize=8)
def _rules(path: str) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}

    def roles(listed, where: str) -> frozenset[str]:
        found = frozenset(str(r).strip().lower() for r in listed or [])
        unknown = sorted(found - set(ROLES))
        if unknown:
            raise ValueError(f"{path}: {where} names unknown role {unknown[0]!r}; known: {', '.join(ROLES)}")
        return found

    agencies = {str(code).upper(): roles(listed, f"agency {code}")
                for code, listed in (data.get("agencies") or {}).items()}
    return roles(data.get("default"), "default"), agencies


def roles_requiring_purpose(agency: str) -> frozenset[str]:
    """The roles of this agency whose users must state a purpose."""
    default, agencies = _rules(os.environ.get(RULES_ENV) or str(DEFAULT_RULES))
    return agencies.get(agency.upper(), default)


def stated_purpose(user: User, text: str | None) -> str | None:
    """The purpose as stated (trimmed, None when blank); raises PurposeRequired when the user must give one."""
    purpose = (text or "").strip()[:MAX_PURPOSE] or None
    if purpose is None and roles_requiring_purpose(user.agency) & set(user.roles):
        raise PurposeRequired(f"{user.name} must state a purpose (header X-Tessera-Purpose or ?purpose=) "
                              "for this read")
    return purpose
