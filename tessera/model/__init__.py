"""Markings, grading and provenance: the facts every statement carries."""
