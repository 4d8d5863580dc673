-- access-control
-- Users for the pipeline: the processor / direct sink writes with an INSERT-only user, the
-- dashboards read with a SELECT-only user. Passwords are not stored here: migrate.py fills
-- ${WRITER_PASSWORD_SHA256} / ${READER_PASSWORD_SHA256} from the environment. The local
-- engine (chdb) has no access control: migrate.py --local skips this file, and the local
-- HTTP front enforces the same two roles for its configured users.
CREATE USER IF NOT EXISTS analytics_writer IDENTIFIED WITH sha256_hash BY '${WRITER_PASSWORD_SHA256}';
CREATE USER IF NOT EXISTS analytics_reader IDENTIFIED WITH sha256_hash BY '${READER_PASSWORD_SHA256}';
GRANT INSERT ON analytics.events TO analytics_writer;
GRANT SELECT ON analytics.* TO analytics_reader;
