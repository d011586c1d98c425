output "table_name" {
  description = "Name of the connections table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the connections table; its indexes are `<arn>/index/<name>`."
  value       = aws_dynamodb_table.this.arn
}

output "session_index_name" {
  description = "Name of the global secondary index keyed by sessionId."
  value       = local.session_index
}

output "user_index_name" {
  description = "Name of the global secondary index keyed by userId."
  value       = local.user_index
}
