-- Another tool may rename a login directly in w_edtperso (UPDATE ... SET uid = ...). Our rows are
-- keyed by username, so move the user's display configuration and direct accesses along with the
-- row: their calendar subscriptions keep working. Never fail the other tool's write: rows that
-- would collide with what the new login already has stay where they are (and the read side then
-- treats an access whose owner has no w_edtperso row as unknown).
CREATE OR REPLACE FUNCTION schedulesy.follow_uid_rename() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.uid IS NULL OR NEW.uid IS NULL OR OLD.uid = NEW.uid THEN
        RETURN NULL;
    END IF;
    -- uid is not unique in the legacy table: if another row still carries the old login, it keeps them.
    IF EXISTS (SELECT 1 FROM public.w_edtperso WHERE uid = OLD.uid) THEN
        RETURN NULL;
    END IF;
    UPDATE schedulesy.access a SET username = NEW.uid
    WHERE a.username = OLD.uid
      AND NOT EXISTS (SELECT 1 FROM schedulesy.access b WHERE b.username = NEW.uid AND b.name = a.name);
    UPDATE schedulesy.customization_config c SET username = NEW.uid
    WHERE c.username = OLD.uid
      AND NOT EXISTS (SELECT 1 FROM schedulesy.customization_config d WHERE d.username = NEW.uid);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS w_edtperso_follow_uid_rename ON public.w_edtperso;
CREATE TRIGGER w_edtperso_follow_uid_rename
    AFTER UPDATE OF uid ON public.w_edtperso
    FOR EACH ROW EXECUTE FUNCTION schedulesy.follow_uid_rename();
