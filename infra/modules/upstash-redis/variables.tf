variable "name" {
  description = "Database name, e.g. \"edge-ingest-prod\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,62}$", var.name))
    error_message = "name must be 3-63 characters of lower-case letters, digits and dashes."
  }
}

variable "primary_region" {
  description = "Upstash primary region of the global database (e.g. \"us-east-1\", \"eu-central-1\")."
  type        = string
  default     = "us-east-1"
}

variable "read_regions" {
  description = "Additional read regions close to your edge traffic. Writes (every ingest request) go to the primary."
  type        = list(string)
  default     = []
}

variable "budget" {
  description = "Monthly budget cap in USD; Upstash stops serving past it (the collector then answers 503 and SDKs retry)."
  type        = number
  default     = 20

  validation {
    condition     = var.budget > 0
    error_message = "budget must be a positive number of dollars."
  }
}

variable "tls" {
  description = "Require TLS. The REST API is always HTTPS; keep true."
  type        = bool
  default     = true
}
