"""Persistence: SQL schema and queries (see ``store.py``) and the shared models."""

from callplane.store.outbox import SqlOutbox
from callplane.store.store import CALL_FILTERS, CALL_RANGE_FILTERS, Page, Store

__all__ = ["CALL_FILTERS", "CALL_RANGE_FILTERS", "Page", "SqlOutbox", "Store"]
