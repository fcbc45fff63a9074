DROP INDEX applications_by_repository;
ALTER TABLE applications DROP COLUMN repository_id;
DROP TABLE repositories;
