output "worker_name" {
  description = "Name of the Worker (for wrangler tail / rollback)."
  value       = cloudflare_worker.this.name
}

output "version_id" {
  description = "Id of the deployed version (roll back by deploying an earlier one)."
  value       = cloudflare_worker_version.this.id
}

output "routes" {
  description = "Route patterns serving the collector."
  value       = [for r in cloudflare_workers_route.this : r.pattern]
}
