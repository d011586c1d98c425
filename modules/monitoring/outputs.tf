output "dashboard_name" {
  description = "Name of the dashboard; null when create_dashboard is false."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "dashboard_url" {
  description = "Console URL of the dashboard; null when create_dashboard is false."
  value       = var.create_dashboard ? "https://${data.aws_region.current.id}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.id}#dashboards/dashboard/${var.name}" : null
}

output "alarm_names" {
  description = "Names of the alarms, by key (integration-errors, execution-errors, client-errors, <function>-errors, -throttles, -duration, dynamodb-throttles)."
  value = merge(
    { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name },
    { for alarm in aws_cloudwatch_metric_alarm.dynamodb_throttles : "dynamodb-throttles" => alarm.alarm_name },
  )
}

output "alarm_topic_arns" {
  description = "SNS topics the alarms notify (the given ones or the created one)."
  value       = local.topic_arns
}

output "alarm_topic_kms_key_arn" {
  description = "ARN of the KMS key encrypting the created topic; null when the module created none."
  value       = one(aws_kms_key.alarms[*].arn)
}

output "alarms" {
  description = "What each single-metric alarm watches, by key: name, namespace, metric_name, statistic, dimensions, threshold (dynamodb-throttles, a metric-math alarm, is in alarm_names only)."
  value = {
    for key, alarm in aws_cloudwatch_metric_alarm.this : key => {
      name        = alarm.alarm_name
      namespace   = alarm.namespace
      metric_name = alarm.metric_name
      statistic   = alarm.statistic
      dimensions  = alarm.dimensions
      threshold   = alarm.threshold
    }
  }
}
