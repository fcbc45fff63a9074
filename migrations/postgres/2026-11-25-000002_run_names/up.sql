-- The plan's name beside the plan, so that lists of runs need not read
-- (and parse) whole plans.
ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE runs SET name = COALESCE(plan::json ->> 'name', '');
