"""Intake: agency exports read through declarative mappings into normalised, marked statements."""
