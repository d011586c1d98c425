output "authorizer_function_name" {
  description = "Name of the authorizer function."
  value       = aws_lambda_function.this["authorizer"].function_name
}

output "authorizer_function_arn" {
  description = "ARN of the authorizer function."
  value       = aws_lambda_function.this["authorizer"].arn
}

output "authorizer_invoke_arn" {
  description = "Invoke ARN of the authorizer function, for API Gateway."
  value       = aws_lambda_function.this["authorizer"].invoke_arn
}

output "authorizer_role_arn" {
  description = "ARN of the authorizer's execution role."
  value       = aws_iam_role.this["authorizer"].arn
}

output "authorizer_log_group_name" {
  description = "Name of the authorizer's log group."
  value       = aws_cloudwatch_log_group.this["authorizer"].name
}

output "authorizer_policy_json" {
  description = "The authorizer role's inline least-privilege policy (JSON)."
  value       = local.policies["authorizer"]
}

output "connection_handler_function_name" {
  description = "Name of the connection-handler function."
  value       = aws_lambda_function.this["connection_handler"].function_name
}

output "connection_handler_function_arn" {
  description = "ARN of the connection-handler function."
  value       = aws_lambda_function.this["connection_handler"].arn
}

output "connection_handler_invoke_arn" {
  description = "Invoke ARN of the connection-handler function, for API Gateway."
  value       = aws_lambda_function.this["connection_handler"].invoke_arn
}

output "connection_handler_role_arn" {
  description = "ARN of the connection handler's execution role."
  value       = aws_iam_role.this["connection_handler"].arn
}

output "connection_handler_log_group_name" {
  description = "Name of the connection handler's log group."
  value       = aws_cloudwatch_log_group.this["connection_handler"].name
}

output "connection_handler_policy_json" {
  description = "The connection-handler role's inline least-privilege policy (JSON)."
  value       = local.policies["connection_handler"]
}

output "package_path" {
  description = "Path of the zip deployed to both functions."
  value       = local.package_path
}

output "crypto_layer_arn" {
  description = "ARN of the cryptography layer version attached to the authorizer; null with HS* algorithms."
  value       = one(aws_lambda_layer_version.crypto[*].arn)
}

output "authorizer_role_name" {
  description = "Name of the authorizer's execution role."
  value       = aws_iam_role.this["authorizer"].name
}

output "connection_handler_role_name" {
  description = "Name of the connection handler's execution role."
  value       = aws_iam_role.this["connection_handler"].name
}

output "authorizer_log_group_arn" {
  description = "ARN of the authorizer's log group."
  value       = aws_cloudwatch_log_group.this["authorizer"].arn
}

output "connection_handler_log_group_arn" {
  description = "ARN of the connection handler's log group."
  value       = aws_cloudwatch_log_group.this["connection_handler"].arn
}

output "backend_signing_secret_arn" {
  description = "ARN of the secret holding the backend request-signing key (created here or given); null while signing is off."
  value       = local.signing_secret_arn
}

output "metrics_namespace" {
  description = "CloudWatch namespace of both functions' embedded metrics."
  value       = var.metrics_namespace
}
