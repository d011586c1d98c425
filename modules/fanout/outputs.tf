output "queue_url" {
  description = "URL of the fan-out queue: the queue_url of the backend SDK's Broadcaster."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the fan-out queue."
  value       = aws_sqs_queue.this.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue: jobs the worker reported max_receive_count times."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "subscriptions_table_name" {
  description = "Name of the subscriptions table: the table_name of the backend SDK's Topics."
  value       = aws_dynamodb_table.subscriptions.name
}

output "subscriptions_table_arn" {
  description = "ARN of the subscriptions table."
  value       = aws_dynamodb_table.subscriptions.arn
}

output "worker_function_name" {
  description = "Name of the fan-out worker function."
  value       = aws_lambda_function.worker.function_name
}

output "gauge_function_name" {
  description = "Name of the OpenConnections gauge function; null with gauge_enabled = false."
  value       = one(aws_lambda_function.gauge[*].function_name)
}
