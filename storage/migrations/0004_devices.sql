-- Devices bound to users by a QR code, and the routing table of operations pushed to them.
-- Repository: storage/repos/devices.py; protocol: actors/sessions.

CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'revoked')),
    secret_sealed bytea NOT NULL CHECK (length(secret_sealed) BETWEEN 2 AND 256),
    counter       bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NULL,
    activated_at  timestamptz NULL,
    revoked_at    timestamptz NULL,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK (status = 'pending' OR status = 'revoked' OR activated_at IS NOT NULL)
);

CREATE INDEX devices_user ON devices (user_id, created_at);

COMMENT ON TABLE devices IS 'Confirmation devices. secret_sealed = 0x01 || IV || KExp15(secret) under keys derived '
    'from the server secret and the device id (actors/sessions/sealing.py). counter = successful '
    'authentications; the latest one owns the device''s single live connection. pending until the first '
    'successful authentication.';

-- One row per operation pushed to a user's devices and not yet withdrawn: what the devices are shown
-- (the notice) and which worker process owns the operation (decisions are routed there).
CREATE TABLE device_notices (
    op_id      uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    owner_node uuid NOT NULL,
    notice     jsonb NOT NULL,
    expires_at timestamptz NOT NULL,
    pushed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX device_notices_user ON device_notices (user_id, expires_at);
CREATE INDEX device_notices_expires ON device_notices (expires_at);

COMMENT ON TABLE device_notices IS 'Operations awaiting confirmation as pushed to devices; owner_node is the '
    'SessionHub node id of the worker whose ConfirmationSink receives the decisions.';
