output "api_id" {
  description = "ID of the WebSocket API in the emulator."
  value       = module.websocket.api_id
}

output "api_execution_arn" {
  description = "Execution ARN of the WebSocket API."
  value       = module.websocket.api_execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = module.websocket.stage_name
}

output "table_name" {
  description = "Name of the DynamoDB connections table."
  value       = module.websocket.table_name
}

output "authorizer_function_name" {
  description = "Name of the authorizer function."
  value       = module.websocket.authorizer_function_name
}

output "connection_handler_function_name" {
  description = "Name of the connection-handler function."
  value       = module.websocket.connection_handler_function_name
}

output "websocket_url" {
  description = "URL the API would have on AWS (wss://<api>.execute-api.<region>.amazonaws.com/<stage>)."
  value       = module.websocket.websocket_url
}

output "callback_url" {
  description = "@connections base URL the API would have on AWS."
  value       = module.websocket.callback_url
}

output "local_websocket_url" {
  description = "URL the local gateway serves the stage at."
  value       = "ws://127.0.0.1:${var.gateway_port}/${module.websocket.stage_name}"
}

output "local_callback_url" {
  description = "@connections base URL of the local gateway: the endpoint_url of boto3's apigatewaymanagementapi client."
  value       = "http://127.0.0.1:${var.connections_port}/${module.websocket.stage_name}"
}

output "backend_signing_secret_arn" {
  description = "Secret whose value is the HMAC key the handler signs backend requests with; null while signing is off."
  value       = module.websocket.backend_signing_secret_arn
}

output "backend_policy_json" {
  description = "Policy the reference backend's role carries (push, find and delete records, read the signing key)."
  value       = module.websocket.backend_policy_json
}

output "connection_handler_role_name" {
  description = "Name of the connection handler's role."
  value       = module.websocket.connection_handler_role_name
}

output "authorizer_role_name" {
  description = "Name of the authorizer's role."
  value       = module.websocket.authorizer_role_name
}

output "kms_key_arn" {
  description = "The customer managed key of the table and the secrets; null unless customer_managed_key."
  value       = local.kms_key_arn
}

output "fanout_queue_url" {
  description = "The fan-out queue (the reference backend's Broadcaster sends to it); null unless fanout_enabled."
  value       = module.websocket.fanout_queue_url
}

output "subscriptions_table_name" {
  description = "The subscriptions table (the reference backend's Topics); null unless fanout_enabled."
  value       = var.fanout_enabled ? module.websocket.fanout.subscriptions_table_name : null
}
