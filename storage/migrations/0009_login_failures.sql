-- Failed logins, shared by every worker and node (actors/identity/throttle.py). Repository:
-- storage/repos/login_failures.py. One row per failure per throttle key ('user:<name>',
-- 'addr:<address>', 'client:<client id>'); a key over its limit within the sliding window refuses
-- attempts before any password is hashed.
--
-- Keys are stored as HMAC-SHA256 under a key derived from the server secret, never as text: an unknown
-- "username" is often a password typed into the wrong field, and client addresses are personal data.
-- Without the server secret a dump of this table cannot be checked against guessed names or passwords.
--
-- Rows older than the window are useless; the throttle deletes them in bounded batches as it records
-- failures. There is no primary key on purpose (rows are never addressed one by one except by the
-- sweep, which uses ctid): each insert maintains two indexes, not three.

CREATE TABLE login_failures (
    key_hash  bytea NOT NULL CHECK (length(key_hash) = 32),
    failed_at timestamptz NOT NULL
);

-- "The n-th latest failure of a key within the window": a backward scan of one key's range, reading
-- at most n entries. Also serves "clear a key".
CREATE INDEX login_failures_key_time ON login_failures (key_hash, failed_at);

-- The sweep: the oldest rows first, whatever their key.
CREATE INDEX login_failures_time ON login_failures (failed_at);

COMMENT ON TABLE login_failures IS 'Failed logins and client authentications, one row per throttle key per '
    'failure. key_hash = HMAC-SHA256(key derived from the server secret, ''user:<lower-cased name>'' | '
    '''addr:<client address>'' | ''client:<client id>''); failed_at = when it failed (clock of the '
    'recording worker). Rows older than security.login_failure_window_s are deleted in batches.';
