# Production: Upstash Redis (the stream), ClickHouse Cloud (the store, schema migrated),
# and the Worker on your own hostname, draining after each ack and from the cron.
module "redis" {
  source = "../../modules/upstash-redis"

  name           = "edge-ingest-prod"
  primary_region = "us-east-1"
  read_regions   = ["eu-west-1"]
  budget         = 50
}

module "clickhouse" {
  source = "../../modules/clickhouse-cloud"

  name                   = "edge-ingest-prod"
  region                 = var.clickhouse_region
  admin_password_hash    = base64sha256(var.clickhouse_admin_password)
  admin_password         = var.clickhouse_admin_password
  writer_password_sha256 = sha256(var.clickhouse_writer_password)
  reader_password_sha256 = sha256(var.clickhouse_reader_password)
  migrations_path        = "${path.module}/../../clickhouse"
  # Workers egress from Cloudflare's network; restrict further with Cloudflare's egress
  # ranges if your plan has dedicated egress IPs.
  ip_access = [{ source = "0.0.0.0/0", description = "Cloudflare Workers (password-protected users)" }]
}

module "worker" {
  source = "../../modules/cloudflare-worker"

  account_id = var.cloudflare_account_id
  zone_id    = var.cloudflare_zone_id
  name       = "edge-ingest"
  build_dir  = var.build_dir
  routes     = ["${var.ingest_hostname}/*"]

  vars = {
    REDIS_URL           = module.redis.rest_url
    CLICKHOUSE_URL      = module.clickhouse.url
    CLICKHOUSE_USER     = module.clickhouse.writer_user
    CLICKHOUSE_DATABASE = "analytics"
    ALLOWED_ORIGINS     = join(",", var.allowed_origins)
    TRUSTED_PROXIES     = join(",", var.trusted_proxies)
    DRAIN_AFTER_ACK_MS  = "10000"
  }
  secrets = {
    REDIS_TOKEN         = module.redis.rest_token
    ALLOWED_WRITE_KEYS  = join(",", var.write_keys_sha256)
    CLICKHOUSE_PASSWORD = var.clickhouse_writer_password
    METRICS_TOKEN       = var.metrics_token
  }
}

# The dashboard: a Worker script of its own on its own hostname, reading as the
# SELECT-only analytics_reader. Its secrets (JWT_SECRET, DASHBOARD_USERS, the reader's
# password) are bound to this script only, never to the collector.
module "dashboard" {
  source = "../../modules/cloudflare-worker"

  account_id     = var.cloudflare_account_id
  zone_id        = var.cloudflare_zone_id
  name           = "edge-ingest-dashboard"
  build_dir      = var.dashboard_build_dir
  routes         = ["${var.dashboard_hostname}/*"]
  cron_schedules = []

  vars = {
    CLICKHOUSE_URL       = module.clickhouse.url
    CLICKHOUSE_USER      = module.clickhouse.reader_user
    CLICKHOUSE_DATABASE  = "analytics"
    REDIS_URL            = module.redis.rest_url
    SESSION_EXPIRY_HOURS = tostring(var.session_expiry_hours)
    ALLOWED_ORIGINS      = join(",", var.dashboard_allowed_origins)
  }
  secrets = {
    JWT_SECRET          = var.jwt_secret
    DASHBOARD_USERS     = var.dashboard_users
    CLICKHOUSE_PASSWORD = var.clickhouse_reader_password
    REDIS_TOKEN         = module.redis.rest_token
    METRICS_TOKEN       = var.metrics_token
  }
}
