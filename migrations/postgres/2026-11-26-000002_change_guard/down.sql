DROP FUNCTION slipway_changed_all(BOOLEAN);
