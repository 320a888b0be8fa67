"""Exports: what leaves Tessera (CSV, and later FtM, GraphML/GEXF, case reports)."""
