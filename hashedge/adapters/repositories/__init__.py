"""Repositories, one module per context: the queries services need, returning domain values,
frames and plain records, never ORM rows."""
