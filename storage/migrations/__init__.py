"""Versioned SQL migrations, applied in order by ``storage.migrator`` when a database opens.

Files are named ``NNNN_snake_case_name.sql`` (four digits, unique, increasing). Each file runs in one
transaction together with its ``schema_migrations`` row, so it must not contain ``BEGIN``/``COMMIT``
or statements that refuse transactions (``CREATE INDEX CONCURRENTLY``, ``VACUUM``). A file is never
edited once released: the checksum of every applied file is recorded, and an edited one is refused.
Fix a released migration with a new file.
"""
