# ClickHouse Cloud service, its IP access list, and the schema from the same migrations the
# local stack uses (infra/clickhouse/migrate.py, idempotent: re-applies nothing).
resource "clickhouse_service" "this" {
  name           = var.name
  cloud_provider = var.cloud_provider
  region         = var.region
  idle_scaling   = var.idle_scaling
  password_hash  = var.admin_password_hash
  ip_access      = var.ip_access
}

locals {
  migrations     = coalesce(var.migrations_path, "${path.module}/../../clickhouse")
  https_endpoint = one([for e in clickhouse_service.this.endpoints : e if e.protocol == "https"])
  url            = "https://${local.https_endpoint.host}:${local.https_endpoint.port}"
}

# Runs after the service exists and again whenever a migration file changes.
resource "terraform_data" "migrations" {
  triggers_replace = [
    clickhouse_service.this.id,
    sha256(join("", [for f in sort(fileset(local.migrations, "migrations/*.sql")) : filesha256("${local.migrations}/${f}")])),
  ]

  provisioner "local-exec" {
    command = "python3 ${local.migrations}/migrate.py up"
    environment = {
      CLICKHOUSE_URL         = local.url
      CLICKHOUSE_USER        = "default"
      CLICKHOUSE_PASSWORD    = var.admin_password
      WRITER_PASSWORD_SHA256 = var.writer_password_sha256
      READER_PASSWORD_SHA256 = var.reader_password_sha256
    }
  }
}
