output "websocket_url" {
  description = "URL clients connect to: wss://<api>.execute-api.<region>.amazonaws.com/<stage>, or with custom_domain wss://<domain>[/<api_mapping_key>]."
  value       = var.custom_domain.enabled ? module.custom_domain[0].websocket_url : module.websocket_api.websocket_url
}

output "callback_url" {
  description = "Base URL of the @connections management API (https://<api>.execute-api.<region>.amazonaws.com/<stage>, or with custom_domain https://<domain>[/<api_mapping_key>]): the endpoint_url of boto3's apigatewaymanagementapi client and the endpoint of the other AWS SDKs, which append /@connections themselves."
  value       = var.custom_domain.enabled ? module.custom_domain[0].callback_url : module.websocket_api.callback_url
}

output "connections_url" {
  description = "The @connections URL itself (https://<api>.execute-api.<region>.amazonaws.com/<stage>/@connections, or with custom_domain https://<domain>[/<api_mapping_key>]/@connections), for raw SigV4 requests: POST, GET or DELETE <connections_url>/<connectionId> (for example with awscurl). boto3 and the other AWS SDKs take callback_url as their endpoint instead."
  value       = var.custom_domain.enabled ? module.custom_domain[0].connections_url : module.websocket_api.connections_url
}

output "api_id" {
  description = "ID of the WebSocket API."
  value       = module.websocket_api.api_id
}

output "api_execution_arn" {
  description = "Execution ARN of the WebSocket API."
  value       = module.websocket_api.api_execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = module.websocket_api.stage_name
}

output "table_name" {
  description = "Name of the DynamoDB connections table."
  value       = module.connections_table.table_name
}

output "table_arn" {
  description = "ARN of the DynamoDB connections table."
  value       = module.connections_table.table_arn
}

output "authorizer_function_name" {
  description = "Name of the authorizer function."
  value       = module.functions.authorizer_function_name
}

output "authorizer_function_arn" {
  description = "ARN of the authorizer function."
  value       = module.functions.authorizer_function_arn
}

output "authorizer_role_arn" {
  description = "ARN of the authorizer function's execution role."
  value       = module.functions.authorizer_role_arn
}

output "connection_handler_function_name" {
  description = "Name of the connection-handler function."
  value       = module.functions.connection_handler_function_name
}

output "connection_handler_function_arn" {
  description = "ARN of the connection-handler function."
  value       = module.functions.connection_handler_function_arn
}

output "connection_handler_role_arn" {
  description = "ARN of the connection-handler function's execution role."
  value       = module.functions.connection_handler_role_arn
}

output "access_log_group_name" {
  description = "Name of the stage's access log group; null when stage.access_logs_enabled is false."
  value       = module.websocket_api.access_log_group_name
}

output "execution_log_group_name" {
  description = "Name of the stage's execution log group; null while stage.execution_logging_level is OFF."
  value       = module.websocket_api.execution_log_group_name
}

output "authorizer_log_group_name" {
  description = "Name of the authorizer function's log group."
  value       = module.functions.authorizer_log_group_name
}

output "connection_handler_log_group_name" {
  description = "Name of the connection-handler function's log group."
  value       = module.functions.connection_handler_log_group_name
}

output "backend_policy_json" {
  description = "IAM policy (JSON) for the backend's role: execute-api:ManageConnections (POST, GET, DELETE) on this stage's @connections, dynamodb:Query on the sessionId and userId indexes, dynamodb:DeleteItem on the table, secretsmanager:GetSecretValue on the request-signing secret (to verify requests), and, with customer managed keys, their use through DynamoDB and Secrets Manager only."
  value       = jsonencode({ Version = "2012-10-17", Statement = local.backend_policy_statements })
}

output "backend_signing_secret_arn" {
  description = "ARN of the Secrets Manager secret whose value (SecretString, UTF-8) is the HMAC key signing every request to the backend: the one the module created, or backend.request_signing.secret_arn; null while signing is off."
  value       = module.functions.backend_signing_secret_arn
}

output "authorizer_id" {
  description = "ID of the API's REQUEST authorizer on $connect."
  value       = module.websocket_api.authorizer_id
}

output "authorizer_role_name" {
  description = "Name of the authorizer function's execution role, for attaching more policies."
  value       = module.functions.authorizer_role_name
}

output "connection_handler_role_name" {
  description = "Name of the connection-handler function's execution role, for attaching more policies."
  value       = module.functions.connection_handler_role_name
}

output "authorizer_log_group_arn" {
  description = "ARN of the authorizer function's log group (for subscriptions and metric filters)."
  value       = module.functions.authorizer_log_group_arn
}

output "connection_handler_log_group_arn" {
  description = "ARN of the connection-handler function's log group (for subscriptions and metric filters)."
  value       = module.functions.connection_handler_log_group_arn
}

output "access_log_group_arn" {
  description = "ARN of the stage's access log group; null when stage.access_logs_enabled is false."
  value       = module.websocket_api.access_log_group_arn
}

output "crypto_layer_arn" {
  description = "ARN of the cryptography layer version attached to the authorizer; null with HS* algorithms."
  value       = module.functions.crypto_layer_arn
}

output "metrics_namespace" {
  description = "CloudWatch namespace of both functions' embedded metrics (dimension Service = name)."
  value       = module.functions.metrics_namespace
}

output "session_store" {
  description = "The session store for the backend, null unless session_store.enabled: endpoint, reader_endpoint, port, tls_enabled (always true), url (rediss://, no credentials), authentication, username, auth_token_secret_arn (null with iam), security_group_id, replication_group_id, replication_group_arn, client_policy_json (attach to the backend's role)."
  value       = var.session_store.enabled ? module.session_store[0] : null
}

output "custom_domain" {
  description = "The custom domain, null unless custom_domain.enabled: domain_name, target_domain_name and hosted_zone_id (for DNS made elsewhere), certificate_arn, api_mapping_id, and the URLs also reported as websocket_url, callback_url and connections_url."
  value       = var.custom_domain.enabled ? module.custom_domain[0] : null
}

output "monitoring" {
  description = "The monitoring, null unless monitoring.enabled: dashboard_name, dashboard_url, alarm_names (by key), alarm_topic_arns, alarm_topic_kms_key_arn."
  value       = var.monitoring.enabled ? module.monitoring[0] : null
}

output "fanout" {
  description = "Topics and fan-out, null unless fanout.enabled: queue_url (the Broadcaster's queue_url), queue_arn, dead_letter_queue_url, dead_letter_queue_arn, subscriptions_table_name (the Topics table), subscriptions_table_arn, worker_function_name, gauge_function_name."
  value       = var.fanout.enabled ? module.fanout[0] : null
}

output "fanout_queue_url" {
  description = "URL of the fan-out queue (the backend SDK's Broadcaster sends to it); null unless fanout.enabled."
  value       = var.fanout.enabled ? module.fanout[0].queue_url : null
}

output "fanout_queue_arn" {
  description = "ARN of the fan-out queue; null unless fanout.enabled."
  value       = var.fanout.enabled ? module.fanout[0].queue_arn : null
}
