"""PostgreSQL: the only package that imports asyncpg."""

from daemon.store.database import MergeSpec, RunRecord, Store

__all__ = ["MergeSpec", "RunRecord", "Store"]
