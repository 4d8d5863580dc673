output "rest_url" {
  description = "Upstash REST URL, for REDIS_URL."
  value       = "https://${upstash_redis_database.this.endpoint}"
}

output "rest_token" {
  description = "Upstash REST token, for REDIS_TOKEN (a secret)."
  value       = upstash_redis_database.this.rest_token
  sensitive   = true
}

output "database_id" {
  description = "Upstash database id."
  value       = upstash_redis_database.this.database_id
}
