# Upstash Redis: the stream the collector appends to (REDIS_URL / REDIS_TOKEN come from here).
# Eviction stays off: an evicted stream entry would be a lost event.
resource "upstash_redis_database" "this" {
  database_name  = var.name
  region         = "global"
  primary_region = var.primary_region
  read_regions   = var.read_regions
  tls            = var.tls
  eviction       = false
  budget         = var.budget
}
