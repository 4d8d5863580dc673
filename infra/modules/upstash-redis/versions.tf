terraform {
  required_version = ">= 1.6.0"

  required_providers {
    upstash = {
      source  = "upstash/upstash"
      version = "~> 1.5"
    }
  }
}
