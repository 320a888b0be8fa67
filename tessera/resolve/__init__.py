"""Entity resolution: exact identifier keys, scored Person pairs, conflict-aware clustering, canonical ids."""
