# The Spin build on SpinKube: secrets in a Kubernetes Secret, the SpinApp (collector,
# health and processor components from spin.toml), and a CronJob that triggers the drain.
resource "kubernetes_secret_v1" "this" {
  metadata {
    name      = "${var.name}-variables"
    namespace = var.namespace
  }
  data = var.secrets
}

locals {
  plain = [for k, v in var.variables : { name = k, value = v }]
  secret = [for k in nonsensitive(keys(var.secrets)) : {
    name      = k
    valueFrom = { secretKeyRef = { name = kubernetes_secret_v1.this.metadata[0].name, key = k } }
  }]
}

resource "kubernetes_manifest" "spin_app" {
  manifest = {
    apiVersion = "core.spinkube.dev/v1alpha1"
    kind       = "SpinApp"
    metadata = {
      name      = var.name
      namespace = var.namespace
    }
    spec = {
      image     = var.image
      executor  = "containerd-shim-spin"
      replicas  = var.replicas
      variables = concat(local.plain, local.secret)
    }
  }
}

resource "kubernetes_cron_job_v1" "drain" {
  count = var.drain_schedule == "" ? 0 : 1

  metadata {
    name      = "${var.name}-drain"
    namespace = var.namespace
  }
  spec {
    schedule           = var.drain_schedule
    concurrency_policy = "Forbid"
    job_template {
      metadata {}
      spec {
        backoff_limit = 0
        template {
          metadata {}
          spec {
            restart_policy = "Never"
            container {
              name  = "drain"
              image = "curlimages/curl:8.10.1"
              args  = ["-fsS", "-X", "POST", "-H", "Authorization: Bearer $(DRAIN_TOKEN)", "http://${var.name}.${var.namespace}.svc/internal/drain"]
              env {
                name = "DRAIN_TOKEN"
                value_from {
                  secret_key_ref {
                    name     = kubernetes_secret_v1.this.metadata[0].name
                    key      = "drain_token"
                    optional = true
                  }
                }
              }
              security_context {
                run_as_non_root            = true
                run_as_user                = 10001
                allow_privilege_escalation = false
                read_only_root_filesystem  = true
                capabilities {
                  drop = ["ALL"]
                }
              }
              resources {
                limits = {
                  cpu    = "100m"
                  memory = "64Mi"
                }
                requests = {
                  cpu    = "10m"
                  memory = "16Mi"
                }
              }
            }
          }
        }
      }
    }
  }
}
