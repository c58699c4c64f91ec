-- The OCSP responder (actors/keys/ocsp.py, storage/repos/ocsp.py) looks certificates up by their CA and
-- serial for every request; without this index each request scanned the certificates table.
-- Serials are random and not declared unique (a repeat would answer as two rows, never wrongly).

CREATE INDEX certificates_ca_serial ON certificates (ca_id, serial);
