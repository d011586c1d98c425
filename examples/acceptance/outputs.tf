output "api_id" {
  description = "ID of the WebSocket API."
  value       = module.websocket.api_id
}

output "stage_name" {
  description = "Name of the stage."
  value       = module.websocket.stage_name
}

output "websocket_url" {
  description = "URL clients connect to on AWS."
  value       = module.websocket.websocket_url
}

output "callback_url" {
  description = "@connections base URL on AWS."
  value       = module.websocket.callback_url
}

output "table_name" {
  description = "The connections table."
  value       = module.websocket.table_name
}

output "jwt_secret_arn" {
  description = "The secret holding the HS256 key tokens are signed with."
  value       = local.jwt_secret_arn
}

output "backend_signing_secret_arn" {
  description = "The secret holding the key the handler signs backend requests with."
  value       = module.websocket.backend_signing_secret_arn
}

output "backend_role_arn" {
  description = "The role carrying backend_policy_json, which the suite pushes as."
  value       = aws_iam_role.backend.arn
}

output "kms_key_arn" {
  description = "The customer managed key of the table, the secrets and the session store."
  value       = aws_kms_key.this.arn
}

output "session_store" {
  description = "The session store, null when session_store_enabled is false."
  value       = module.websocket.session_store
}

output "custom_domain" {
  description = "The custom domain, null without one."
  value       = module.websocket.custom_domain
}

output "monitoring" {
  description = "The dashboard, alarms and alarm topic."
  value       = module.websocket.monitoring
}
