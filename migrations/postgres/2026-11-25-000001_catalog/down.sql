DROP TABLE api_tokens;
DROP TABLE workflow_versions;
DROP TABLE workflows;
DROP TABLE projects;
