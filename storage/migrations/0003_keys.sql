-- Keys and certificates: users' signing keys (held in HSM units), their certificates (issued by the
-- built-in CA or uploaded from an external CA), the built-in CA itself and extra trust anchors.
-- Repository: storage/repos/keys.py; domain: actors/keys.

-- One row per key pair generated in an HSM unit. The private key never leaves the units: soft units
-- return it wrapped under their KEK (wrapped_blob), PKCS#11 units keep it on the token (hsm_key_id).
CREATE TABLE keys (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    algorithm         text NOT NULL CHECK (algorithm IN ('gost3410_2012_256', 'gost3410_2012_512', 'ecdsa_p256')),
    paramset          text NULL CHECK (paramset ~ '^[A-Z0-9_]{1,32}$'),
    hsm_domain        text NOT NULL CHECK (length(hsm_domain) BETWEEN 1 AND 200),
    hsm_key_id        text NOT NULL CHECK (hsm_key_id ~ '^[0-9a-f]{32}$'),
    wrapped_blob      bytea NULL CHECK (length(wrapped_blob) BETWEEN 1 AND 4096),
    public_key_spki   bytea NOT NULL CHECK (length(public_key_spki) BETWEEN 16 AND 1024),
    label             text NULL CHECK (length(label) BETWEEN 1 AND 200),
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    is_default        boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz NULL,
    revocation_reason text NULL CHECK (length(revocation_reason) BETWEEN 1 AND 64),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK (NOT (is_default AND status = 'revoked')),
    CHECK ((algorithm = 'ecdsa_p256') = (paramset IS NULL))
);

CREATE UNIQUE INDEX keys_hsm_ref ON keys (hsm_domain, hsm_key_id);
CREATE UNIQUE INDEX keys_spki ON keys (sha256(public_key_spki));
CREATE INDEX keys_user ON keys (user_id, created_at);
-- At most one default key per user.
CREATE UNIQUE INDEX keys_one_default ON keys (user_id) WHERE is_default;

COMMENT ON TABLE keys IS 'Signing keys in HSM units. paramset = signing.gost.ParamSet member name (GOST only); '
    'hsm_domain = actors.hsmpool key domain (soft | pkcs11:<label>); wrapped_blob = soft-unit blob wrapped under '
    'the units'' KEK (NULL for PKCS#11); public_key_spki = DER SubjectPublicKeyInfo.';

-- The built-in CA. One active row; a retired CA keeps its row so certificates it issued stay traceable.
CREATE TABLE ca (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    algorithm        text NOT NULL CHECK (algorithm IN ('gost3410_2012_256', 'gost3410_2012_512', 'ecdsa_p256')),
    paramset         text NULL CHECK (paramset ~ '^[A-Z0-9_]{1,32}$'),
    hsm_domain       text NOT NULL CHECK (length(hsm_domain) BETWEEN 1 AND 200),
    hsm_key_id       text NOT NULL CHECK (hsm_key_id ~ '^[0-9a-f]{32}$'),
    wrapped_blob     bytea NULL CHECK (length(wrapped_blob) BETWEEN 1 AND 4096),
    certificate_der  bytea NOT NULL CHECK (length(certificate_der) BETWEEN 64 AND 16384),
    subject          text NOT NULL,
    not_before       timestamptz NOT NULL,
    not_after        timestamptz NOT NULL,
    issued_count     bigint NOT NULL DEFAULT 0 CHECK (issued_count >= 0),
    next_crl_number  bigint NOT NULL DEFAULT 1 CHECK (next_crl_number >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    retired_at       timestamptz NULL,
    CHECK ((status = 'retired') = (retired_at IS NOT NULL))
);

-- Workers racing to create the CA at first use: exactly one insert wins, the others read it.
CREATE UNIQUE INDEX ca_one_active ON ca ((true)) WHERE status = 'active';

COMMENT ON TABLE ca IS 'The built-in CA: its key reference in the HSM units (as in keys), its self-signed '
    'certificate, how many certificates it issued and the number of its next CRL.';

CREATE TABLE certificates (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key_id            uuid NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ca_id             uuid NULL REFERENCES ca (id) ON DELETE RESTRICT,
    der               bytea NOT NULL CHECK (length(der) BETWEEN 64 AND 65536),
    fingerprint       bytea NOT NULL CHECK (length(fingerprint) = 32),
    serial            text NOT NULL CHECK (serial ~ '^[0-9a-f]{1,80}$'),
    subject           text NOT NULL,
    issuer            text NOT NULL,
    not_before        timestamptz NOT NULL,
    not_after         timestamptz NOT NULL,
    source            text NOT NULL CHECK (source IN ('builtin_ca', 'uploaded')),
    chain_validated   boolean NOT NULL,
    status            text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
    revoked_at        timestamptz NULL,
    revocation_reason text NULL CHECK (length(revocation_reason) BETWEEN 1 AND 64),
    is_default        boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK (NOT (is_default AND status = 'revoked')),
    CHECK ((source = 'builtin_ca') = (ca_id IS NOT NULL))
);

CREATE UNIQUE INDEX certificates_fingerprint ON certificates (fingerprint);
CREATE INDEX certificates_user ON certificates (user_id, created_at);
CREATE INDEX certificates_key ON certificates (key_id);
CREATE INDEX certificates_ca_revoked ON certificates (ca_id, revoked_at) WHERE status = 'revoked';
-- At most one default certificate per user (what signing uses when no certificate is named).
CREATE UNIQUE INDEX certificates_one_default ON certificates (user_id) WHERE is_default;

COMMENT ON TABLE certificates IS 'Certificates of keys. fingerprint = SHA-256 of der; serial = lower-case hex; '
    'subject/issuer = RFC 4514-like text for display (the DER is authoritative); chain_validated = the chain was '
    'checked against trust anchors when stored (false: uploaded with no anchor configured, a warning was given).';

-- Extra trust anchors (beyond the built-in CA): imported from configured files or added by administrators.
CREATE TABLE trust_anchors (
    fingerprint bytea PRIMARY KEY CHECK (length(fingerprint) = 32),
    der         bytea NOT NULL CHECK (length(der) BETWEEN 64 AND 65536),
    subject     text NOT NULL,
    source      text NOT NULL CHECK (source IN ('config', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
