"""Tessera: a shared intelligence picture against organised immigration crime."""

__version__ = "0.1.0"
