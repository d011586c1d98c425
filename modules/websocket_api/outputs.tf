output "api_id" {
  description = "ID of the WebSocket API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_execution_arn" {
  description = "Execution ARN of the WebSocket API (prefix of its route and @connections ARNs)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "websocket_url" {
  description = "URL clients connect to: wss://<api>.execute-api.<region>.amazonaws.com/<stage>."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "callback_url" {
  description = "Base URL of the stage's @connections API (https://…/<stage>), the endpoint_url of boto3's apigatewaymanagementapi client."
  value       = local.callback_url
}

output "connections_url" {
  description = "The @connections URL itself (https://…/<stage>/@connections), for raw SigV4 requests (POST, GET or DELETE <connections_url>/<connectionId>, for example with awscurl). boto3 and the other AWS SDKs take callback_url as their endpoint instead."
  value       = "${local.callback_url}/@connections"
}

output "deployment_trigger" {
  description = "Hash of what the stage's deployment serves (route selection, routes, route responses, integration, authorizer): a new deployment is made exactly when it changes."
  value       = aws_apigatewayv2_deployment.this.triggers["redeployment"]
}

output "authorizer_id" {
  description = "ID of the REQUEST authorizer on $connect."
  value       = aws_apigatewayv2_authorizer.this.id
}

output "access_log_group_name" {
  description = "Name of the stage's access log group; null when stage.access_logs_enabled is false."
  value       = one(aws_cloudwatch_log_group.access[*].name)
}

output "execution_log_group_name" {
  description = "Name of the stage's execution log group; null while stage.execution_logging_level is OFF."
  value       = one(aws_cloudwatch_log_group.execution[*].name)
}

output "access_log_group_arn" {
  description = "ARN of the stage's access log group; null when stage.access_logs_enabled is false."
  value       = one(aws_cloudwatch_log_group.access[*].arn)
}
