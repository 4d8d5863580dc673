variable "name" {
  description = "Name of the SpinApp and its Kubernetes objects."
  type        = string
  default     = "edge-ingest"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "name must be a DNS label."
  }
}

variable "namespace" {
  description = "Kubernetes namespace (must exist, with SpinKube's operator and containerd-shim-spin installed)."
  type        = string
  default     = "edge-ingest"

  validation {
    condition     = var.namespace != "default"
    error_message = "Use a namespace of its own, not \"default\"."
  }
}

variable "image" {
  description = "OCI reference of the Spin app pushed with `spin registry push` (e.g. ghcr.io/acme/edge-ingest:0.1.0)."
  type        = string

  validation {
    condition     = length(var.image) > 0 && !endswith(var.image, ":latest")
    error_message = "image must be a pinned reference (not :latest), so rollbacks are a tag change."
  }
}

variable "replicas" {
  description = "Number of replicas."
  type        = number
  default     = 2

  validation {
    condition     = var.replicas >= 1
    error_message = "replicas must be at least 1."
  }
}

variable "variables" {
  description = "Plain Spin variables (lower-case names as in spin.toml: redis_url, clickhouse_url, allowed_origins, ...)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.variables) : can(regex("^[a-z][a-z0-9_]*$", k))])
    error_message = "Spin variable names are lower case (allowed_origins, ...)."
  }
}

variable "secrets" {
  description = "Secret Spin variables (allowed_write_keys, redis_token, clickhouse_password, drain_token, metrics_token), kept in a Kubernetes secret."
  type        = map(string)
  sensitive   = true
}

variable "drain_schedule" {
  description = "Cron schedule of the job that calls POST /internal/drain on the processor component (empty: no job)."
  type        = string
  default     = "* * * * *"
}
