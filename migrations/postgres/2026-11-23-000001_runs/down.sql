DROP TABLE log_chunks;
DROP TABLE approvals;
DROP TABLE jobs;
DROP TABLE stages;
DROP TABLE runs;
