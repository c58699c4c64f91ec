-- Identity of this Klyuch installation, and a small key-value store for settings kept in the database.
-- Later migrations add the domain tables.

CREATE TABLE instance (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    instance_id uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE instance IS 'Exactly one row: the identity of this installation.';

INSERT INTO instance DEFAULT VALUES;

CREATE TABLE kv (
    key        text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE kv IS 'Small settings and markers kept in the database; not for bulk data.';
