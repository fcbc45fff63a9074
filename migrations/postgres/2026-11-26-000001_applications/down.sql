DROP TABLE schedules;
DROP TABLE deliveries;
DROP TABLE secrets;
DROP TABLE applications;
