"""Markings and grading as analysts write them."""

from __future__ import annotations

import pytest

from tessera.model.markings import Grading, Marking, MarkingError, highest


def test_the_banner_of_mixed_material_carries_the_top_classification_and_every_caveat():
    banner = highest([Marking.make("OFFICIAL"), Marking.make("SECRET", "UK EYES ONLY"),
                      Marking.make("OFFICIAL-SENSITIVE", release_to="GB,FR"), Marking.make("OFFICIAL", release_to="GB")])
    assert banner.classification == "SECRET"
    assert banner.caveat == "UK EYES ONLY"


def test_gradings_in_both_schemes_are_read_and_nonsense_refused():
    assert str(Grading.parse("1A", "P")) == "1AP" and Grading.parse("2bc").handling == "C"
    assert Grading.parse("B24").scheme == "5x5x5"
    assert Grading.parse("") is None
    with pytest.raises(MarkingError):
        Grading.parse("9Z")
    with pytest.raises(MarkingError):
        Marking.make("CONFIDENTIAL")
