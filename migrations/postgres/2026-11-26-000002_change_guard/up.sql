-- The guard of a batch of status changes sent as one statement (see
-- `pg_change_batch` in crates/store/src/runs.rs): raising undoes the whole
-- statement when one of its conditional updates found no row.
CREATE FUNCTION slipway_changed_all(ok BOOLEAN) RETURNS INTEGER
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION 'slipway: a conditional change found its row in another status';
    END IF;
    RETURN 1;
END
$$;

-- Room on each page for the new versions of rows whose status changes
-- (runs change 2 to 4 times, stages and jobs 2 to 3), so that PostgreSQL
-- can update them in place (HOT) when no indexed column changes.
ALTER TABLE stages SET (fillfactor = 70);
ALTER TABLE jobs SET (fillfactor = 70);
