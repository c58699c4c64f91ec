-- Identity: user accounts, OAuth2 clients (information systems), login sessions (refresh-token
-- families), refresh tokens, and revoked access tokens. Repository: storage/repos/identity.py.
-- Other tables reference users(id); keep that name and column.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$'),
    display_name  text NULL CHECK (length(display_name) <= 200),
    email         text NULL CHECK (length(email) <= 254),
    phone         text NULL CHECK (length(phone) <= 32),
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'operator', 'admin')),
    password_hash text NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Usernames are unique regardless of case ("Alice" and "alice" are one account); lookups use lower().
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

COMMENT ON TABLE users IS 'Accounts: users, operators, administrators. password_hash is argon2id (PHC string); NULL means no password login.';

CREATE TABLE oauth_clients (
    client_id       text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    secret_hash     bytea NOT NULL CHECK (length(secret_hash) = 32),
    role            text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'operator', 'admin')),
    user_id         uuid NULL REFERENCES users (id) ON DELETE CASCADE,
    callback_secret bytea NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    created_by      uuid NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX oauth_clients_user ON oauth_clients (user_id) WHERE user_id IS NOT NULL;

COMMENT ON TABLE oauth_clients IS 'Information systems. secret_hash = SHA-256 of a 256-bit random secret; '
    'callback_secret = AES-256-GCM sealed HMAC key for async callbacks; a client bound to user_id acts as '
    'that user, an unbound one as its own principal with role.';

-- One row per grant: a password login (its refresh tokens form one family) or one client_credentials
-- token. Every access token names its session (sid claim): revoking the session kills them all.
CREATE TABLE auth_sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id     text NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    grant_type    text NOT NULL CHECK (grant_type IN ('password', 'client_credentials')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz NULL,
    revoke_reason text NULL CHECK (length(revoke_reason) <= 64),
    CHECK (user_id IS NOT NULL OR client_id IS NOT NULL)
);

CREATE INDEX auth_sessions_user_live ON auth_sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX auth_sessions_client ON auth_sessions (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX auth_sessions_expires ON auth_sessions (expires_at);

-- Refresh tokens rotate: using one marks it used and issues its successor in the same family.
-- Presenting a used token again (reuse) revokes the whole family (its session).
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id   uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz NULL,
    replaced_by uuid NULL REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    revoked_at  timestamptz NULL
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Single access tokens revoked before they expire (RFC 7009); rows past expires_at are purged.
CREATE TABLE revoked_access_tokens (
    jti        uuid PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at);
