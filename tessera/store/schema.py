"""Every table module of Tessera, gathered on one MetaData for migrations."""

import importlib

from sqlalchemy import MetaData

# Packages that define tables in a `tables` module of their own, besides the store's.
TABLE_MODULES = [
    "tessera.store.tables",
    "tessera.access.tables",
    "tessera.api.tables",
    "tessera.situation.tables",
    "tessera.alerts.tables",
    "tessera.resolve.tables",
]


def all_metadata() -> MetaData:
    for name in TABLE_MODULES:
        importlib.import_module(name)
    from tessera.store.tables import metadata

    return metadata
