DROP TABLE workloads;
DROP TABLE namespaces;
