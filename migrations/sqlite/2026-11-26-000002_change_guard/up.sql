-- Nothing on SQLite: batches of status changes run in one transaction
-- there, so the PostgreSQL guard function has no counterpart. The
-- migration exists to keep both trees' histories in step.
SELECT 1;
