# The configuration `make test-acceptance` applies (docs/acceptance.md): every optional part
# that can run without a team's own infrastructure, with customer managed keys everywhere a
# key can go, to whatever the AWS settings point at (the local emulator, or a real account).
#
# Every name starts with var.name and every resource carries the tag acceptance-run, so a
# run's leftovers can be found; nothing here is retained on destroy (the JWT secret is
# deleted at once, the module's signing secret and the keys are scheduled for deletion,
# which costs nothing).
provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  tags       = { acceptance-run = var.name }
  # The account's CloudWatch role: created here only when asked (it is one setting per
  # account and region), else named, else logs are off.
  account_role_arn = var.create_account_cloudwatch_role ? module.account_cloudwatch_role[0].cloudwatch_role_arn : var.account_cloudwatch_role_arn
  # The secrets: this run's own, or those a team's backend already verifies with.
  jwt_secret_arn = var.jwt_secret_arn != null ? var.jwt_secret_arn : aws_secretsmanager_secret.jwt[0].arn
}

# One key for the table, both secrets and the session store, its policy delegating to IAM
# as in examples/complete: every read through Secrets Manager and DynamoDB needs the
# caller's kms:Decrypt through that service.
resource "aws_kms_key" "this" {
  description             = "Encrypts the ${var.name} acceptance run's table, secrets and session store."
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersTheKeyThroughIam"
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

# The HS256 key tokens are signed with. Its value (two random UUIDs) is written through a
# write-only argument: the suite reads it from Secrets Manager to mint tokens.
resource "aws_secretsmanager_secret" "jwt" {
  count = var.jwt_secret_arn == null ? 1 : 0

  name_prefix             = "${var.name}-jwt-"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "jwt" {
  count = var.jwt_secret_arn == null ? 1 : 0

  secret_id                = aws_secretsmanager_secret.jwt[0].id
  secret_string_wo         = replace("${uuid()}${uuid()}", "-", "")
  secret_string_wo_version = 1
}

module "account_cloudwatch_role" {
  source = "../../modules/account_cloudwatch_role"
  count  = var.create_account_cloudwatch_role ? 1 : 0

  name = "${var.name}-apigateway-cloudwatch"
}

# The session store's network: a VPC of its own, two subnets, the backend's security group.
resource "aws_vpc" "this" {
  count = var.session_store_enabled ? 1 : 0

  cidr_block = "10.42.0.0/16"
}

resource "aws_subnet" "this" {
  for_each = var.session_store_enabled ? { a = 1, b = 2 } : {}

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = "10.42.${each.value}.0/24"
  availability_zone = "${var.region}${each.key}"
}

resource "aws_security_group" "backend" {
  count = var.session_store_enabled ? 1 : 0

  name        = "${var.name}-backend"
  description = "The backend of the ${var.name} acceptance run"
  vpc_id      = aws_vpc.this[0].id
}

resource "aws_route53_zone" "this" {
  count = var.custom_domain != null && var.create_hosted_zone ? 1 : 0

  name          = var.custom_domain.zone_name
  force_destroy = true
}

module "websocket" {
  source = "../../"

  name         = var.name
  package_path = var.package_path
  route_keys   = ["ping"]
  # The suite's client types its messages with `type`, as the reference backend does.
  route_selection_expression  = "$request.body.type"
  log_retention_days          = 1
  account_cloudwatch_role_arn = local.account_role_arn

  stage = {
    name                = "acceptance"
    access_logs_enabled = var.create_account_cloudwatch_role || var.account_cloudwatch_role_arn != null
  }

  table = {
    kms_key_arn                    = aws_kms_key.this.arn
    point_in_time_recovery_enabled = false
  }

  jwt = {
    secret_arn         = local.jwt_secret_arn
    secret_kms_key_arn = var.jwt_secret_arn == null ? aws_kms_key.this.arn : var.secrets_kms_key_arn
  }

  backend = {
    url = var.backend_url
    request_signing = {
      enabled       = true
      secret_arn    = var.signing_secret_arn
      create_secret = var.signing_secret_arn == null
      kms_key_arn   = var.signing_secret_arn == null ? aws_kms_key.this.arn : var.secrets_kms_key_arn
    }
  }

  session_store = {
    enabled                   = var.session_store_enabled
    vpc_id                    = one(aws_vpc.this[*].id)
    subnet_ids                = [for subnet in aws_subnet.this : subnet.id]
    client_security_group_ids = aws_security_group.backend[*].id
    num_cache_clusters        = 1
    kms_key_arn               = aws_kms_key.this.arn
    snapshot_retention_limit  = 0
    apply_immediately         = true
  }

  custom_domain = {
    enabled         = var.custom_domain != null
    domain_name     = try(var.custom_domain.domain_name, null)
    route53_zone_id = var.create_hosted_zone ? one(aws_route53_zone.this[*].zone_id) : try(var.custom_domain.route53_zone_id, null)
  }

  monitoring = {
    enabled = true
  }

  tags = local.tags
}

# The backend's role, with exactly the policy the module hands a backend: the suite pushes
# and deletes stale records as this role (it trusts the account, whose callers still need
# sts:AssumeRole in their own policies).
resource "aws_iam_role" "backend" {
  name_prefix = "${var.name}-backend-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "backend" {
  name   = "backend"
  role   = aws_iam_role.backend.id
  policy = module.websocket.backend_policy_json
}
