output "cloudwatch_role_arn" {
  description = "ARN of the role now set in API Gateway's account settings; pass it as the bridge's account_cloudwatch_role_arn (which also orders its stage after the setting)."
  value       = aws_api_gateway_account.this.cloudwatch_role_arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}
