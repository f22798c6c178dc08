-- One database per service (DESIGN.md: each service owns its tables and its URL).
-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d).
CREATE DATABASE users;
CREATE DATABASE students;
CREATE DATABASE uploads;
CREATE DATABASE sync;
CREATE DATABASE oso;
