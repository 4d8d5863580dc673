output "collector_url" {
  description = "Point the SDKs here (Segment host option)."
  value       = "https://${var.ingest_hostname}"
}

output "clickhouse_url" {
  description = "ClickHouse HTTPS endpoint (analytics_reader for dashboards)."
  value       = module.clickhouse.url
}

output "redis_rest_url" {
  description = "Upstash REST URL (REDIS_URL of a native processor, if you run one)."
  value       = module.redis.rest_url
}

output "worker_version_id" {
  description = "Deployed Worker version."
  value       = module.worker.version_id
}

output "dashboard_url" {
  description = "The dashboard: open it and log in as a DASHBOARD_USERS user."
  value       = "https://${var.dashboard_hostname}"
}
