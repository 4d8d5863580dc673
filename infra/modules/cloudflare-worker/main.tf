# The collector + health Worker: one versioned script (the worker-build output: a JS module
# and the wasm module it imports), configuration as bindings, a deployment, routes and the
# drain Cron Trigger. Rollback: `wrangler rollback` or point the deployment at an earlier
# version (docs/DEPLOY.md).
resource "cloudflare_worker" "this" {
  account_id = var.account_id
  name       = var.name

  observability = {
    enabled = true
  }
}

locals {
  plain_bindings = [for k, v in var.vars : { name = k, type = "plain_text", text = v }]
  # Secret values are looked up by name so only the (non-sensitive) names drive for_each.
  secret_bindings = [for k in nonsensitive(keys(var.secrets)) : { name = k, type = "secret_text", text = var.secrets[k] }]
}

resource "cloudflare_worker_version" "this" {
  account_id         = var.account_id
  worker_id          = cloudflare_worker.this.id
  compatibility_date = var.compatibility_date
  main_module        = "index.js"

  modules = [
    {
      name         = "index.js"
      content_type = "application/javascript+module"
      content_file = "${var.build_dir}/index.js"
    },
    {
      name         = "index_bg.wasm"
      content_type = "application/wasm"
      content_file = "${var.build_dir}/index_bg.wasm"
    },
  ]

  bindings = concat(local.plain_bindings, local.secret_bindings)
}

resource "cloudflare_workers_deployment" "this" {
  account_id  = var.account_id
  script_name = cloudflare_worker.this.name
  strategy    = "percentage"

  versions = [{
    percentage = var.traffic_percentage
    version_id = cloudflare_worker_version.this.id
  }]
}

resource "cloudflare_workers_route" "this" {
  for_each = var.zone_id == null ? toset([]) : toset(var.routes)

  zone_id = var.zone_id
  pattern = each.value
  script  = cloudflare_workers_deployment.this.script_name
}

resource "cloudflare_workers_cron_trigger" "this" {
  count = length(var.cron_schedules) > 0 ? 1 : 0

  account_id  = var.account_id
  script_name = cloudflare_workers_deployment.this.script_name
  schedules   = [for c in var.cron_schedules : { cron = c }]
}
