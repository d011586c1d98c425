output "websocket_url" {
  description = "URL clients connect to (append ?token=<jwt>)."
  value       = module.websocket.websocket_url
}

output "callback_url" {
  description = "endpoint_url for the backend's apigatewaymanagementapi client."
  value       = module.websocket.callback_url
}

output "table_name" {
  description = "Connections table the backend queries to push to a session."
  value       = module.websocket.table_name
}

output "backend_policy_json" {
  description = "Policy to attach to the backend's role: push to clients, find and delete records, read the signing key."
  value       = module.websocket.backend_policy_json
}
