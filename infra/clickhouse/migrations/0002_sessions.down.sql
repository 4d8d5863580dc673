DROP VIEW IF EXISTS analytics.sessions_mv;
DROP TABLE IF EXISTS analytics.sessions;
