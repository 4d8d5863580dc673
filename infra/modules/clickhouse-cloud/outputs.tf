output "url" {
  description = "HTTPS URL of the service, for CLICKHOUSE_URL."
  value       = local.url
}

output "service_id" {
  description = "ClickHouse Cloud service id."
  value       = clickhouse_service.this.id
}

output "writer_user" {
  description = "User for CLICKHOUSE_USER (INSERT-only)."
  value       = "analytics_writer"
}

output "reader_user" {
  description = "SELECT-only user for dashboards and scripts/verify."
  value       = "analytics_reader"
}
