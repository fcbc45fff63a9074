DROP TABLE load_requests;
