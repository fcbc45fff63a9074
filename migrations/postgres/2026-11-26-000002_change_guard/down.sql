DROP FUNCTION slipway_changed_all(BOOLEAN);
ALTER TABLE stages RESET (fillfactor);
ALTER TABLE jobs RESET (fillfactor);
