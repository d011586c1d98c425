# A Redis-compatible session store for the backend (docs/design.md, "Session store"):
# an ElastiCache replication group in the caller's subnets, encrypted in transit and at rest,
# reachable only from the security groups the caller names, with IAM authentication (default)
# or an AUTH token kept in Secrets Manager.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  id          = "${var.name}-sessions"
  replicated  = var.num_cache_clusters > 1
  iam         = var.authentication == "iam"
  backend_ids = local.iam ? ["${var.name}-backend"] : []
  arn_prefix  = "arn:${data.aws_partition.current.partition}:elasticache:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}"
}

resource "aws_elasticache_subnet_group" "this" {
  name        = local.id
  description = "Subnets of the ${var.name} session store"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_security_group" "this" {
  name        = local.id
  description = "The ${var.name} session store: the backend's security groups on the cache port only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = local.id })
}

# count, not for_each: the backend's security group is often created in the same plan, and
# its id is unknown until apply.
resource "aws_vpc_security_group_ingress_rule" "clients" {
  count = length(var.client_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "Session store clients (the backend)"
  referenced_security_group_id = var.client_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  tags                         = var.tags
}

# IAM authentication: clients connect as <name>-backend with a token signed by their role.
# A user group must hold a user named "default"; this one is switched off.
resource "aws_elasticache_user" "default" {
  count = local.iam ? 1 : 0

  user_id       = "${var.name}-default"
  user_name     = "default"
  engine        = var.engine
  access_string = "off -@all"
  authentication_mode {
    type = "no-password-required"
  }
  tags = var.tags
}

resource "aws_elasticache_user" "backend" {
  count = local.iam ? 1 : 0

  # With IAM authentication the user id and the user name must be the same.
  user_id       = local.backend_ids[0]
  user_name     = local.backend_ids[0]
  engine        = var.engine
  access_string = "on ~* +@all"
  authentication_mode {
    type = "iam"
  }
  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  count = local.iam ? 1 : 0

  user_group_id = local.id
  engine        = var.engine
  user_ids      = [aws_elasticache_user.default[0].user_id, aws_elasticache_user.backend[0].user_id]
  tags          = var.tags
}

# AUTH token: generated once, kept in Secrets Manager. The replication group's auth_token has
# no write-only form, so the token is in the state (sensitive). Later plans ignore both
# copies: rotate with Secrets Manager and ModifyReplicationGroup (auth_token_update_strategy
# ROTATE), not with Terraform.
data "aws_secretsmanager_random_password" "auth_token" {
  count = local.iam ? 0 : 1

  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "auth_token" {
  count = local.iam ? 0 : 1

  # checkov:skip=CKV_AWS_149:A customer managed key is optional (kms_key_arn encrypts the secret when given); the AWS managed key is used otherwise.
  # checkov:skip=CKV2_AWS_57:Rotating the AUTH token must also call ModifyReplicationGroup; the module documents the procedure instead of shipping a rotation function.
  name_prefix             = "${local.id}-auth-token-"
  description             = "AUTH token of the ${var.name} session store (${local.id})"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "auth_token" {
  count = local.iam ? 0 : 1

  secret_id     = aws_secretsmanager_secret.auth_token[0].id
  secret_string = data.aws_secretsmanager_random_password.auth_token[0].random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_elasticache_replication_group" "this" {
  # checkov:skip=CKV_AWS_31:Transit encryption is always on; with the default IAM authentication the user group authenticates clients instead of an AUTH token (auth_token is set when authentication = auth_token).
  # checkov:skip=CKV_AWS_191:A customer managed key is optional (kms_key_arn); at-rest encryption is always on and uses the AWS owned key otherwise.
  replication_group_id       = local.id
  description                = "Session store of ${var.name}"
  engine                     = var.engine
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = var.num_cache_clusters
  port                       = var.port
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.this.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  automatic_failover_enabled = local.replicated
  multi_az_enabled           = local.replicated
  user_group_ids             = local.iam ? [aws_elasticache_user_group.this[0].user_group_id] : null
  auth_token                 = local.iam ? null : aws_secretsmanager_secret_version.auth_token[0].secret_string
  # hashicorp/aws 6.0 dropped this argument's default (ROTATE in 5.x) and wants it set
  # whenever auth_token is; it must stay unset without auth_token (docs/provider-6.md).
  auth_token_update_strategy = local.iam ? null : "ROTATE"
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = var.snapshot_retention_limit
  apply_immediately          = var.apply_immediately
  tags                       = var.tags

  lifecycle {
    ignore_changes = [auth_token]
  }
}

locals {
  # for expressions, not conditionals: the two branches of a conditional must have one type.
  read_secret_statements = [
    for arn in aws_secretsmanager_secret.auth_token[*].arn : {
      Sid      = "ReadSessionStoreAuthToken"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [arn]
    }
  ]
  decrypt_secret_statements = [
    for key in(local.iam ? [] : compact([var.kms_key_arn])) : {
      Sid       = "DecryptSessionStoreAuthToken"
      Effect    = "Allow"
      Action    = ["kms:Decrypt"]
      Resource  = [key]
      Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${data.aws_region.current.id}.amazonaws.com" } }
    }
  ]
  connect_statements = [
    for user in aws_elasticache_user.backend : {
      Sid      = "ConnectToSessionStore"
      Effect   = "Allow"
      Action   = ["elasticache:Connect"]
      Resource = [aws_elasticache_replication_group.this.arn, user.arn]
    }
  ]
  client_policy = {
    Version   = "2012-10-17"
    Statement = concat(local.connect_statements, local.read_secret_statements, local.decrypt_secret_statements)
  }
}
