output "service_url" {
  description = "In-cluster URL of the app (expose it with an Ingress or Gateway)."
  value       = "http://${var.name}.${var.namespace}.svc"
}

output "secret_name" {
  description = "Kubernetes Secret holding the secret variables."
  value       = kubernetes_secret_v1.this.metadata[0].name
}
