-- The current CRL of each built-in CA, one for the whole deployment (actors/keys/crl.py). Repository:
-- storage/repos/revocation.py. Every worker and node serves the CRL stored here, so a client never
-- gets a lower cRLNumber from one worker after a higher one from another (RFC 5280 §5.2.3), and a
-- CRL is signed once per change, not once per worker.
--
-- The row also carries the claim of the one worker re-signing it: the claim is taken (and the number
-- drawn from ca.next_crl_number) in one short transaction, the signature is made in the HSM with no
-- transaction open, and the CRL is stored in a second transaction only if the claim is still the
-- storer's. A claim whose worker died lapses at claimed_until; the next worker takes over with a
-- higher number (numbers may skip, never go back). Both transactions take a transaction-level
-- advisory lock on the CA first, so claims and stores of one CA are serialised.
--
-- Only the latest CRL is kept (no history): the row is overwritten by each re-issue.

CREATE TABLE ca_crls (
    ca_id             uuid PRIMARY KEY REFERENCES ca (id) ON DELETE CASCADE,
    number            bigint NULL CHECK (number >= 1),
    der               bytea NULL CHECK (length(der) BETWEEN 64 AND 268435456),
    this_update       timestamptz NULL,
    next_update       timestamptz NULL,
    refresh_at        timestamptz NULL,
    revoked_count     bigint NULL CHECK (revoked_count >= 0),
    latest_revoked_at timestamptz NULL,
    issued_at         timestamptz NULL,
    claim_token       uuid NULL,
    claimed_until     timestamptz NULL,
    -- No CRL yet (only a first claim) or a complete one.
    CHECK (
        (number IS NULL) = (der IS NULL)
        AND (number IS NULL) = (this_update IS NULL)
        AND (number IS NULL) = (next_update IS NULL)
        AND (number IS NULL) = (refresh_at IS NULL)
        AND (number IS NULL) = (revoked_count IS NULL)
        AND (number IS NULL) = (issued_at IS NULL)
    ),
    CHECK (next_update > this_update AND refresh_at > this_update AND refresh_at <= next_update),
    CHECK ((revoked_count = 0) = (latest_revoked_at IS NULL)),
    CHECK ((claim_token IS NULL) = (claimed_until IS NULL))
);

COMMENT ON TABLE ca_crls IS 'The latest CRL of each built-in CA, served by every worker. number = its cRLNumber '
    '(drawn from ca.next_crl_number, only ever replaced by a higher one); der = the signed CRL; this_update / '
    'next_update = its thisUpdate / nextUpdate; refresh_at = when it is re-signed even without a change (3/4 of '
    'its validity); revoked_count / latest_revoked_at = the revocation state it lists (count and latest '
    'revoked_at of the CA''s revoked certificates: a different current state means it is stale); issued_at = '
    'when it was stored; claim_token / claimed_until = the worker re-signing it now and when that claim lapses. '
    'All CRL columns are NULL only before the first CRL is stored.';
