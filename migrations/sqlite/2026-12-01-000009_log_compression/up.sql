-- Nothing on SQLite (log bodies are stored uncompressed there). The
-- migration exists to keep both trees' histories in step.
SELECT 1;
