# The session store (modules/session_store), planned with a mocked AWS provider.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = aws_elasticache_replication_group.this
  override_during = plan
  values = {
    arn = "arn:aws:elasticache:eu-west-1:123456789012:replicationgroup:demo-sessions"
  }
}

override_resource {
  target          = aws_elasticache_user.backend
  override_during = plan
  values = {
    arn = "arn:aws:elasticache:eu-west-1:123456789012:user:demo-backend"
  }
}

override_resource {
  target          = aws_secretsmanager_secret.auth_token
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-sessions-auth-token-abc123"
  }
}

override_data {
  target = data.aws_secretsmanager_random_password.auth_token
  values = {
    random_password = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"
  }
}

variables {
  name                      = "demo"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-aaaa1111", "subnet-bbbb2222"]
  client_security_group_ids = ["sg-backend1111", "sg-backend2222"]
  tags                      = { team = "platform" }
}

run "iam_authentication_by_default" {
  command = plan

  module {
    source = "./modules/session_store"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.replication_group_id == "demo-sessions" && aws_elasticache_replication_group.this.engine == "valkey" && aws_elasticache_replication_group.this.engine_version == "8.0"
    error_message = "The replication group must be <name>-sessions, Valkey 8.0 by default."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.transit_encryption_enabled && aws_elasticache_replication_group.this.at_rest_encryption_enabled
    error_message = "Encryption in transit and at rest must always be on."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.num_cache_clusters == 2 && aws_elasticache_replication_group.this.automatic_failover_enabled && aws_elasticache_replication_group.this.multi_az_enabled
    error_message = "Two nodes by default, with automatic failover and Multi-AZ."
  }

  assert {
    condition     = aws_elasticache_subnet_group.this.name == "demo-sessions" && toset(aws_elasticache_subnet_group.this.subnet_ids) == toset(["subnet-aaaa1111", "subnet-bbbb2222"]) && aws_elasticache_replication_group.this.subnet_group_name == "demo-sessions"
    error_message = "The group must live in a subnet group of the caller's subnets."
  }

  assert {
    condition     = aws_security_group.this.vpc_id == "vpc-0123456789abcdef0" && length(aws_elasticache_replication_group.this.security_group_ids) == 1
    error_message = "The group must have the module's own security group, in the caller's VPC."
  }

  assert {
    condition = [
      for rule in aws_vpc_security_group_ingress_rule.clients :
      "${rule.referenced_security_group_id} ${rule.ip_protocol} ${rule.from_port}-${rule.to_port} ${coalesce(rule.cidr_ipv4, "no-cidr")}"
    ] == ["sg-backend1111 tcp 6379-6379 no-cidr", "sg-backend2222 tcp 6379-6379 no-cidr"]
    error_message = "The security group must admit exactly the clients' security groups, on the cache port only, and no CIDR."
  }

  assert {
    condition     = aws_elasticache_user.backend[0].user_id == "demo-backend" && aws_elasticache_user.backend[0].user_name == "demo-backend" && aws_elasticache_user.backend[0].authentication_mode[0].type == "iam"
    error_message = "The backend user must authenticate with IAM, its id equal to its name."
  }

  assert {
    condition     = aws_elasticache_user.default[0].user_name == "default" && startswith(aws_elasticache_user.default[0].access_string, "off")
    error_message = "The user group's mandatory default user must be switched off."
  }

  assert {
    condition     = toset(aws_elasticache_user_group.this[0].user_ids) == toset(["demo-default", "demo-backend"]) && aws_elasticache_replication_group.this.user_group_ids == toset(["demo-sessions"])
    error_message = "The replication group must authenticate through the user group of the two users."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.auth_token == null && length(aws_secretsmanager_secret.auth_token) == 0
    error_message = "With IAM authentication there must be no AUTH token and no secret."
  }

  assert {
    condition = jsondecode(output.client_policy_json).Statement == [{
      Sid      = "ConnectToSessionStore"
      Effect   = "Allow"
      Action   = ["elasticache:Connect"]
      Resource = ["arn:aws:elasticache:eu-west-1:123456789012:replicationgroup:demo-sessions", "arn:aws:elasticache:eu-west-1:123456789012:user:demo-backend"]
    }]
    error_message = "The client policy must grant elasticache:Connect on the group and the backend user, and nothing else."
  }

  assert {
    condition     = output.tls_enabled && output.port == 6379 && output.username == "demo-backend" && output.auth_token_secret_arn == null && output.authentication == "iam"
    error_message = "The outputs must describe a TLS connection as the IAM user, without a secret."
  }
}

run "auth_token_in_secrets_manager" {
  command = plan

  module {
    source = "./modules/session_store"
  }

  variables {
    authentication     = "auth_token"
    engine             = "redis"
    engine_version     = "7.1"
    num_cache_clusters = 1
    port               = 6380
    kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.engine == "redis" && aws_elasticache_replication_group.this.engine_version == "7.1" && aws_elasticache_replication_group.this.port == 6380
    error_message = "Engine, version and port must follow their variables."
  }

  assert {
    condition     = !aws_elasticache_replication_group.this.automatic_failover_enabled && !aws_elasticache_replication_group.this.multi_az_enabled
    error_message = "A single node cannot fail over: automatic failover and Multi-AZ must be off."
  }

  assert {
    condition     = length(aws_elasticache_user_group.this) == 0 && length(aws_elasticache_user.backend) == 0 && aws_elasticache_replication_group.this.user_group_ids == null
    error_message = "AUTH-token authentication must not create IAM users or a user group."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.auth_token == aws_secretsmanager_secret_version.auth_token[0].secret_string && length(aws_elasticache_replication_group.this.auth_token) == 64
    error_message = "The replication group's AUTH token must be the 64-character token stored in the secret."
  }

  assert {
    condition     = aws_secretsmanager_secret.auth_token[0].kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" && aws_elasticache_replication_group.this.kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    error_message = "The customer managed key must encrypt the data at rest and the secret."
  }

  assert {
    condition     = [for rule in aws_vpc_security_group_ingress_rule.clients : rule.from_port == 6380 && rule.to_port == 6380] == [true, true]
    error_message = "The security group must follow the port."
  }

  assert {
    condition = jsondecode(output.client_policy_json).Statement == [
      {
        Sid      = "ReadSessionStoreAuthToken"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-sessions-auth-token-abc123"]
      },
      {
        Sid       = "DecryptSessionStoreAuthToken"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.eu-west-1.amazonaws.com" } }
      },
    ]
    error_message = "The client policy must grant reading the token's secret (and decrypting it through Secrets Manager), and no elasticache:Connect."
  }

  assert {
    condition     = output.auth_token_secret_arn == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-sessions-auth-token-abc123" && output.username == "default" && output.authentication == "auth_token"
    error_message = "The outputs must name the token's secret and the default user."
  }
}

run "rejects_unknown_engine" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    engine = "memcached"
  }
  expect_failures = [var.engine]
}

run "rejects_unknown_authentication" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    authentication = "password"
  }
  expect_failures = [var.authentication]
}

run "rejects_bad_engine_version" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    engine_version = "latest"
  }
  expect_failures = [var.engine_version]
}

run "rejects_bad_node_type" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    node_type = "t4g.micro"
  }
  expect_failures = [var.node_type]
}

run "rejects_too_many_nodes" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    num_cache_clusters = 7
  }
  expect_failures = [var.num_cache_clusters]
}

run "rejects_privileged_port" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    port = 80
  }
  expect_failures = [var.port]
}

run "rejects_no_subnets" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    subnet_ids = []
  }
  expect_failures = [var.subnet_ids]
}

run "rejects_bad_name" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    name = "Demo_"
  }
  expect_failures = [var.name]
}

run "rejects_bad_snapshot_retention" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    snapshot_retention_limit = 36
  }
  expect_failures = [var.snapshot_retention_limit]
}

run "rejects_bad_recovery_window" {
  command = plan
  module {
    source = "./modules/session_store"
  }
  variables {
    secret_recovery_window_in_days = 3
  }
  expect_failures = [var.secret_recovery_window_in_days]
}
