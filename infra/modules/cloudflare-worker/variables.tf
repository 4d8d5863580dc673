variable "account_id" {
  description = "Cloudflare account id."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.account_id))
    error_message = "account_id must be the 32-hex-digit Cloudflare account id."
  }
}

variable "zone_id" {
  description = "Zone id of the domain the routes live on (null: workers.dev only)."
  type        = string
  default     = null
}

variable "name" {
  description = "Worker name, e.g. \"edge-ingest\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.name))
    error_message = "name must be lower-case letters, digits and dashes, at most 63 characters."
  }
}

variable "build_dir" {
  description = "worker-build output directory holding index.js and index_bg.wasm (functions/collector/build after `scripts/build-worker functions/collector`)."
  type        = string
}

variable "compatibility_date" {
  description = "Workers compatibility date; keep equal to wrangler.toml's."
  type        = string
  default     = "2026-11-01"

  validation {
    condition     = can(regex("^\\d{4}-\\d{2}-\\d{2}$", var.compatibility_date))
    error_message = "compatibility_date must be YYYY-MM-DD."
  }
}

variable "routes" {
  description = "Route patterns on zone_id, e.g. [\"ingest.example.com/*\"] (first-party endpoint on the customer's domain)."
  type        = list(string)
  default     = []
}

variable "cron_schedules" {
  description = "Cron Triggers: the drain safety net. Keep equal to wrangler.toml [triggers]; [] for a Worker without one (the dashboard)."
  type        = list(string)
  default     = ["* * * * *"]
}

variable "vars" {
  description = "Plain configuration variables (REDIS_URL, CLICKHOUSE_URL, ALLOWED_ORIGINS, ...)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.vars) : can(regex("^[A-Z][A-Z0-9_]*$", k))])
    error_message = "variable names are upper case (ALLOWED_ORIGINS, ...)."
  }
}

variable "secrets" {
  description = "Secret variables (REDIS_TOKEN, ALLOWED_WRITE_KEYS, CLICKHOUSE_PASSWORD, METRICS_TOKEN, SIGNING_SECRETS); stored as secret_text bindings."
  type        = map(string)
  sensitive   = true
}

variable "traffic_percentage" {
  description = "Share of traffic the new version gets (gradual rollout); 100 = full deploy."
  type        = number
  default     = 100

  validation {
    condition     = var.traffic_percentage > 0 && var.traffic_percentage <= 100
    error_message = "traffic_percentage must be in (0, 100]."
  }
}
