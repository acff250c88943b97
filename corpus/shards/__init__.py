"""Persona shards: the schema (Arrow schemas and version), atomic Parquet I/O, writing a book's shard
and reading a character's lines back. Every stage, and `training`, reads and writes through here."""
