output "worker_name" {
  description = "The Worker; its URL is https://<worker_name>.<your-subdomain>.workers.dev."
  value       = module.worker.worker_name
}

output "clickhouse_url" {
  description = "ClickHouse HTTPS endpoint."
  value       = module.clickhouse.url
}
