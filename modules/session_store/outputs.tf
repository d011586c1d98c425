output "replication_group_id" {
  description = "ID of the replication group (`<name>-sessions`)."
  value       = aws_elasticache_replication_group.this.replication_group_id
}

output "replication_group_arn" {
  description = "ARN of the replication group."
  value       = aws_elasticache_replication_group.this.arn
}

output "endpoint" {
  description = "Primary endpoint address (reads and writes); it follows a failover."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint" {
  description = "Reader endpoint address (spreads reads over the replicas)."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "TCP port of the nodes."
  value       = aws_elasticache_replication_group.this.port
}

output "tls_enabled" {
  description = "Whether clients must connect with TLS (always true: rediss://)."
  value       = aws_elasticache_replication_group.this.transit_encryption_enabled
}

output "url" {
  description = "`rediss://<endpoint>:<port>` without credentials, for REDIS_URL; add the user name (iam) or the token from auth_token_secret_arn."
  value       = "rediss://${aws_elasticache_replication_group.this.primary_endpoint_address}:${aws_elasticache_replication_group.this.port}"
}

output "authentication" {
  description = "`iam` or `auth_token`, as configured."
  value       = var.authentication
}

output "username" {
  description = "User the backend connects as: `<name>-backend` with IAM authentication (sign its token with the backend's role), `default` with an AUTH token."
  value       = local.iam ? aws_elasticache_user.backend[0].user_name : "default"
}

output "auth_token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the AUTH token (SecretString = the token); null with IAM authentication."
  value       = local.iam ? null : aws_secretsmanager_secret.auth_token[0].arn
}

output "security_group_id" {
  description = "ID of the session store's security group (admits client_security_group_ids on port)."
  value       = aws_security_group.this.id
}

output "client_policy_json" {
  description = "IAM policy (JSON) for the backend's role: elasticache:Connect on the replication group and the backend user (iam), or secretsmanager:GetSecretValue on the token's secret (+ kms:Decrypt through Secrets Manager with a customer key) (auth_token)."
  value       = jsonencode(local.client_policy)
}
