variable "cloudflare_api_token" {
  description = "Cloudflare API token with Workers Scripts:Edit and Workers Routes:Edit."
  type        = string
  sensitive   = true
}

variable "cloudflare_account_id" {
  description = "Cloudflare account id."
  type        = string
}

variable "cloudflare_zone_id" {
  description = "Zone of the first-party ingest hostname."
  type        = string
}

variable "ingest_hostname" {
  description = "Hostname the SDKs send to, on your own domain (ad blockers block vendor hosts), e.g. \"ingest.example.com\"."
  type        = string
}

variable "upstash_email" {
  description = "Upstash account email."
  type        = string
}

variable "upstash_api_key" {
  description = "Upstash management API key."
  type        = string
  sensitive   = true
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

variable "clickhouse_region" {
  description = "ClickHouse Cloud region (AWS), close to the Upstash primary region."
  type        = string
  default     = "us-east-1"
}

variable "clickhouse_admin_password" {
  description = "Password of the ClickHouse default user (used by the migration step)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.clickhouse_admin_password) >= 16
    error_message = "Use at least 16 characters."
  }
}

variable "clickhouse_writer_password" {
  description = "Password of analytics_writer, the INSERT-only user of the Worker's processor."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.clickhouse_writer_password) >= 16
    error_message = "Use at least 16 characters."
  }
}

variable "clickhouse_reader_password" {
  description = "Password of analytics_reader, the SELECT-only user for dashboards."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.clickhouse_reader_password) >= 16
    error_message = "Use at least 16 characters."
  }
}

variable "write_keys_sha256" {
  description = "Allowed write keys as sha256:<hex> entries, so the deployed config holds no plaintext key."
  type        = list(string)
  sensitive   = true

  validation {
    condition     = length(var.write_keys_sha256) > 0 && alltrue([for k in var.write_keys_sha256 : can(regex("^sha256:[0-9a-f]{64}$", k))])
    error_message = "Each entry must be sha256:<64 hex digits> (python3 -c \"import hashlib;print('sha256:'+hashlib.sha256(b'KEY').hexdigest())\")."
  }
}

variable "metrics_token" {
  description = "Bearer token for /health and /metrics (they cost backend calls and are closed without it); Prometheus sends it."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.metrics_token) >= 24
    error_message = "Use at least 24 random characters."
  }
}

variable "trusted_proxies" {
  description = "CIDR blocks of proxies in front of the Worker whose X-Forwarded-For is believed (usually none: Cloudflare's CF-Connecting-IP names the client)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.trusted_proxies : can(cidrhost(c, 0))])
    error_message = "Each entry must be a CIDR block such as 203.0.113.0/24."
  }
}

variable "allowed_origins" {
  description = "Browser origins allowed to send events."
  type        = list(string)
  default     = ["*"]
}

variable "build_dir" {
  description = "worker-build output (functions/collector/build)."
  type        = string
  default     = "../../../functions/collector/build"
}

variable "dashboard_hostname" {
  description = "Hostname of the dashboard (its page and API), e.g. dashboard.example.com."
  type        = string
}

variable "dashboard_build_dir" {
  description = "worker-build output of the dashboard (functions/dashboard/build)."
  type        = string
  default     = "../../../functions/dashboard/build"
}

variable "jwt_secret" {
  description = "HS256 key of the dashboard's session tokens (JWT_SECRET)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.jwt_secret) >= 32
    error_message = "Use at least 32 random bytes, e.g. `openssl rand -hex 32`."
  }
}

variable "dashboard_users" {
  description = "DASHBOARD_USERS: <name>:<pbkdf2 hash>:<write-key id>|..., comma separated (`dashboard-admin user` prints an entry)."
  type        = string
  sensitive   = true
}

variable "session_expiry_hours" {
  description = "Lifetime of a dashboard login, hours (SESSION_EXPIRY_HOURS)."
  type        = number
  default     = 24

  validation {
    condition     = var.session_expiry_hours >= 1 && var.session_expiry_hours <= 720
    error_message = "session_expiry_hours must be 1..720."
  }
}

variable "dashboard_allowed_origins" {
  description = "Other origins whose scripts may call the Dashboard API with a bearer token (the dashboard's own origin needs no entry)."
  type        = list(string)
  default     = []
}
