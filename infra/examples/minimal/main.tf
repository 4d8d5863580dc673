# Minimal: no Redis. The Worker inserts straight into ClickHouse (SINK=clickhouse,
# async_insert with wait) and is reachable on workers.dev. No shared rate limit, retry
# marker or dead-letter stream in this mode (README: Direct sink).
module "clickhouse" {
  source = "../../modules/clickhouse-cloud"

  name                   = "edge-ingest"
  region                 = "us-east-1"
  admin_password_hash    = base64sha256(var.clickhouse_admin_password)
  admin_password         = var.clickhouse_admin_password
  writer_password_sha256 = sha256(var.clickhouse_writer_password)
  reader_password_sha256 = sha256(var.clickhouse_reader_password)
  migrations_path        = "${path.module}/../../clickhouse"
  ip_access              = [{ source = "0.0.0.0/0", description = "Cloudflare Workers (password-protected users)" }]
}

module "worker" {
  source = "../../modules/cloudflare-worker"

  account_id     = var.cloudflare_account_id
  name           = "edge-ingest"
  build_dir      = "${path.module}/../../../functions/collector/build"
  cron_schedules = []

  vars = {
    SINK            = "clickhouse"
    CLICKHOUSE_URL  = module.clickhouse.url
    CLICKHOUSE_USER = module.clickhouse.writer_user
  }
  secrets = {
    ALLOWED_WRITE_KEYS  = join(",", var.write_keys_sha256)
    CLICKHOUSE_PASSWORD = var.clickhouse_writer_password
  }
}
