variable "name" {
  description = "Service name, e.g. \"edge-ingest-prod\"."
  type        = string

  validation {
    condition     = length(var.name) > 0 && length(var.name) <= 50
    error_message = "name must be 1-50 characters."
  }
}

variable "cloud_provider" {
  description = "Cloud of the service: aws, gcp or azure."
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "gcp", "azure"], var.cloud_provider)
    error_message = "cloud_provider must be aws, gcp or azure."
  }
}

variable "region" {
  description = "Region of the service, e.g. \"us-east-1\"."
  type        = string
}

variable "ip_access" {
  description = "CIDR blocks allowed to connect. Cloudflare Workers egress from many addresses: allow 0.0.0.0/0 only with strong passwords, or use Cloudflare's published egress ranges."
  type = list(object({
    source      = string
    description = string
  }))

  validation {
    condition     = length(var.ip_access) > 0 && alltrue([for e in var.ip_access : can(cidrhost(e.source, 0))])
    error_message = "ip_access needs at least one entry and every source must be a CIDR block."
  }
}

variable "admin_password_hash" {
  description = "SHA-256 (base64) of the default user's password; only the hash enters the state."
  type        = string
  sensitive   = true
}

variable "admin_password" {
  description = "The default user's password, used once by the migration step (never stored in the service definition)."
  type        = string
  sensitive   = true
}

variable "writer_password_sha256" {
  description = "Hex SHA-256 of analytics_writer's password (INSERT-only user of the processor and the direct sink)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.writer_password_sha256))
    error_message = "writer_password_sha256 must be 64 lower-case hex digits."
  }
}

variable "reader_password_sha256" {
  description = "Hex SHA-256 of analytics_reader's password (SELECT-only user for dashboards)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.reader_password_sha256))
    error_message = "reader_password_sha256 must be 64 lower-case hex digits."
  }
}

variable "idle_scaling" {
  description = "Let the service idle when unused (cheaper; the first insert after idling waits for wake-up, the processor retries)."
  type        = bool
  default     = true
}

variable "migrations_path" {
  description = "Path to infra/clickhouse (migrate.py and migrations/); null = the copy next to this module."
  type        = string
  default     = null
}
