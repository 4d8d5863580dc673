variable "cloudflare_api_token" {
  description = "Cloudflare API token with Workers Scripts:Edit."
  type        = string
  sensitive   = true
}

variable "cloudflare_account_id" {
  description = "Cloudflare account id."
  type        = string
}

variable "clickhouse_organization_id" {
  description = "ClickHouse Cloud organization id."
  type        = string
}

variable "clickhouse_token_key" {
  description = "ClickHouse Cloud API key id."
  type        = string
  sensitive   = true
}

variable "clickhouse_token_secret" {
  description = "ClickHouse Cloud API key secret."
  type        = string
  sensitive   = true
}

variable "clickhouse_admin_password" {
  description = "Password of the ClickHouse default user (used by the migration step)."
  type        = string
  sensitive   = true
}

variable "clickhouse_writer_password" {
  description = "Password of analytics_writer, which the Worker inserts with."
  type        = string
  sensitive   = true
}

variable "clickhouse_reader_password" {
  description = "Password of analytics_reader."
  type        = string
  sensitive   = true
}

variable "write_keys_sha256" {
  description = "Allowed write keys as sha256:<hex> entries."
  type        = list(string)
  sensitive   = true
}
