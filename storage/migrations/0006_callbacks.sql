-- Outbox of HTTP callbacks of asynchronous operations: one row per (operation, event), written in the
-- transaction that completes the operation and delivered by the dispatcher actors of every worker
-- (actors/callbacks). Repository: storage/repos/callbacks.py.
--
-- Life of a row:
--   pending ──claim──► delivering ──2xx──► delivered
--      ▲                   │  ├──4xx (not 408/429), no secret, payload too large, blocked address──► dead
--      └──5xx/408/429/timeout/connection error (attempts < max), or lease expired──┘  └─ last attempt ─► dead
-- A claim increments attempts and sets lease_until; a row still 'delivering' after its lease (its worker
-- died) is claimed again by anyone. Outcomes are fenced by (claimed_by, attempts): a late answer of a
-- worker whose lease was taken over changes nothing.

CREATE TABLE callback_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    operation_id    uuid NOT NULL,
    user_id         uuid NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id       text NULL REFERENCES oauth_clients (client_id) ON DELETE SET NULL,
    url             text NOT NULL CHECK (length(url) BETWEEN 8 AND 8192),
    event           text NOT NULL CHECK (event ~ '^[a-z][a-z_]{0,31}(\.[a-z][a-z_]{0,31}){1,3}$'),
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivering', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz NULL,
    claimed_by      text NULL CHECK (length(claimed_by) <= 64),
    last_status     integer NULL CHECK (last_status BETWEEN 100 AND 999),
    last_error      text NULL CHECK (length(last_error) <= 300),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz NULL,
    UNIQUE (operation_id, event),
    CHECK ((state = 'delivering') = (lease_until IS NOT NULL)),
    CHECK ((state IN ('delivered', 'dead')) = (finished_at IS NOT NULL))
);

-- The dispatcher's two queries: due pending rows, and expired leases.
CREATE INDEX callback_deliveries_due ON callback_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callback_deliveries_leased ON callback_deliveries (lease_until) WHERE state = 'delivering';
CREATE INDEX callback_deliveries_finished ON callback_deliveries (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX callback_deliveries_user ON callback_deliveries (user_id) WHERE user_id IS NOT NULL;

COMMENT ON TABLE callback_deliveries IS 'Outbox of operation callbacks (HMAC-signed POSTs to callback_url). '
    'operation_id is not a foreign key: a callback outlives the deletion of its operation''s result. '
    'The signing key is the callback secret of client_id (oauth_clients); a row without one is never sent.';
