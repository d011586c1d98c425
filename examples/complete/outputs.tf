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
  description = "Policy to attach to the backend's role: push to clients, find and delete records, read the signing key, use the KMS key through DynamoDB and Secrets Manager."
  value       = module.websocket.backend_policy_json
}

output "backend_signing_secret_arn" {
  description = "Secret whose value is the HMAC key the backend verifies requests with."
  value       = module.websocket.backend_signing_secret_arn
}

output "log_group_names" {
  description = "Where to look: access logs, execution logs and each function's logs."
  value = {
    access             = module.websocket.access_log_group_name
    execution          = module.websocket.execution_log_group_name
    authorizer         = module.websocket.authorizer_log_group_name
    connection_handler = module.websocket.connection_handler_log_group_name
  }
}

output "kms_key_arn" {
  description = "ARN of the key encrypting the table, the log groups and the functions' environment."
  value       = aws_kms_key.this.arn
}

output "session_store" {
  description = "Endpoint, port, TLS flag, user and client policy of the session store, for the backend."
  value       = module.websocket.session_store
}

output "dashboard_url" {
  description = "The CloudWatch dashboard."
  value       = module.websocket.monitoring.dashboard_url
}

output "fanout_queue_url" {
  description = "The queue the backend SDK's Broadcaster sends large broadcasts to."
  value       = module.websocket.fanout_queue_url
}

output "subscriptions_table_name" {
  description = "The table the backend SDK's Topics keeps subscriptions in."
  value       = module.websocket.fanout.subscriptions_table_name
}
