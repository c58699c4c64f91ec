-- Announce every change to a user's keys or certificates on the NOTIFY channel 'klyuch_keys_changed'
-- (payload: the user's id), sent when the changing transaction commits. Each worker keeps the signing
-- material it parsed (actors/operations/material.py) only while it hears these announcements, and
-- clears it on each one (storage/coherent.py). A trigger rather than a call in the repository, so no
-- code path that changes these tables (revocation, a new default, an upload, a cascade from a deleted
-- user) can forget to announce it. PostgreSQL folds identical notifications of one transaction into one.
-- Channel name: storage/repos/keys.py CHANGES_CHANNEL.

CREATE FUNCTION announce_key_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('klyuch_keys_changed', COALESCE(NEW.user_id, OLD.user_id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER keys_announce_change
    AFTER INSERT OR UPDATE OR DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION announce_key_change();

CREATE TRIGGER certificates_announce_change
    AFTER INSERT OR UPDATE OR DELETE ON certificates
    FOR EACH ROW EXECUTE FUNCTION announce_key_change();
