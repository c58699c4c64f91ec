-- Signing operations (PendingOperation actors persist their state machine here) and their items.
-- Repository: storage/repos/operations.py; domain: actors/operations.
--
-- States (ARCHITECTURE.md §3):
--   created ─► awaiting_confirmation ─► confirmed ─► executing ─► completed
--      │               │  └─► declined                   └─► failed
--      └───────────────┴─► expired
-- A row is inserted already past 'created' (the insert is that transition): 'awaiting_confirmation'
-- for device confirmation, 'executing' for policy 'none'. Every later transition is a guarded
-- UPDATE ... WHERE state = <expected>, so two workers can never both move one operation.
--
-- Ownership: the worker whose PendingOperation actor drives a live operation holds a lease
-- (owner_node, lease_until) and renews it; a live row whose lease lapsed (its worker died or
-- stopped) is claimed by another worker with SELECT ... FOR UPDATE SKIP LOCKED and re-hydrated.

CREATE TABLE operations (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id         text NULL REFERENCES oauth_clients (client_id) ON DELETE SET NULL,
    type              text NOT NULL DEFAULT 'sign' CHECK (type IN ('sign')),
    format            text NOT NULL CHECK (format IN ('raw', 'cades-bes')),
    detached          boolean NOT NULL DEFAULT false,
    certificate_id    uuid NOT NULL,
    digest_algorithm  text NOT NULL CHECK (length(digest_algorithm) BETWEEN 1 AND 32),
    state             text NOT NULL CHECK (state IN ('created', 'awaiting_confirmation', 'confirmed',
                                                     'executing', 'completed', 'failed', 'declined',
                                                     'expired')),
    policy            text NOT NULL CHECK (policy IN ('none', 'device')),
    callback_url      text NULL CHECK (length(callback_url) BETWEEN 1 AND 2048),
    item_count        integer NOT NULL CHECK (item_count >= 1),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    decided_by_device uuid NULL REFERENCES devices (id) ON DELETE SET NULL,
    decided_at        timestamptz NULL,
    finished_at       timestamptz NULL,
    retain_until      timestamptz NULL,
    error             text NULL CHECK (length(error) BETWEEN 1 AND 64),
    error_detail      text NULL CHECK (length(error_detail) <= 1000),
    owner_node        uuid NULL,
    lease_until       timestamptz NULL,
    CHECK ((state IN ('completed', 'failed', 'declined', 'expired')) = (finished_at IS NOT NULL)),
    CHECK ((finished_at IS NULL) = (retain_until IS NULL)),
    CHECK (policy = 'device' OR state NOT IN ('awaiting_confirmation', 'confirmed', 'declined')),
    CHECK (format = 'cades-bes' OR NOT detached)
);

-- GET /operations: a user's operations, newest first.
CREATE INDEX operations_user ON operations (user_id, created_at DESC, id DESC);
-- Claiming orphans: live rows by lease.
CREATE INDEX operations_live ON operations (lease_until NULLS FIRST)
    WHERE state IN ('created', 'awaiting_confirmation', 'confirmed', 'executing');
-- PendingLookup: what a user's freshly connected device must be shown.
CREATE INDEX operations_awaiting ON operations (user_id, created_at) WHERE state = 'awaiting_confirmation';
-- The retention sweeper.
CREATE INDEX operations_retain ON operations (retain_until) WHERE retain_until IS NOT NULL;

COMMENT ON TABLE operations IS 'Signing operations. certificate_id names certificates(id) without a foreign key '
    '(an operation outlives a deleted certificate); digest_algorithm = signing.algorithms name of the digest the '
    'item digests use; retain_until = when a finished operation and its results are deleted (results TTL); '
    'owner_node/lease_until = the worker driving a live operation and until when its claim holds.';

CREATE TABLE operation_items (
    operation_id uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    idx          integer NOT NULL CHECK (idx >= 0),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    input        text NOT NULL CHECK (input IN ('content', 'hash')),
    digest       bytea NOT NULL CHECK (length(digest) BETWEEN 1 AND 64),
    document     bytea NULL,
    preview      text NULL CHECK (length(preview) <= 2000),
    result       bytea NULL,
    error_code   text NULL CHECK (length(error_code) BETWEEN 1 AND 64),
    error_detail text NULL CHECK (length(error_detail) <= 1000),
    PRIMARY KEY (operation_id, idx),
    CHECK (input = 'content' OR document IS NULL),
    CHECK (result IS NULL OR error_code IS NULL)
);

COMMENT ON TABLE operation_items IS 'Documents of an operation. digest = the document digest (what devices show '
    'and the raw signature / CAdES message-digest covers); document = the content, kept only while an attached '
    'CAdES still needs it and deleted when the operation leaves its live states; preview = text shown to '
    'devices, deleted with it; result = signature value (raw) or DER ContentInfo (CAdES).';
