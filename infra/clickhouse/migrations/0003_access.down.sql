-- access-control
DROP USER IF EXISTS analytics_writer;
DROP USER IF EXISTS analytics_reader;
