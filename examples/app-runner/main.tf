# The module with its backend on App Runner: the example app (app/, its own image) as a
# container service whose URL is the module's backend.url, reaching the session store through
# a VPC connector, its instance role carrying the module's backend policy and the session
# store's client policy.
#
# No cycle: the module's functions need the service URL, and the service needs the module's
# table name and @connections URL. The table name does not depend on the functions, and the
# @connections URL is built here from the API id (which does not either) instead of taken
# from the stage, which does.
provider "aws" {
  region = var.region
}

locals {
  name       = "ws-apprunner"
  stage_name = "live"
  port       = 8080
  # How often the handler re-reads its signing key (and how old a new version must be before
  # it signs with it); the app re-reads its keys as often, so a rotation refuses nothing.
  key_refresh_seconds = 300
  # https://<api>.execute-api.<region>.amazonaws.com/<stage>: what the callback_url output
  # reports, without depending on the stage.
  callback_url = "https://${module.websocket.api_id}.execute-api.${var.region}.amazonaws.com/${local.stage_name}"
}

# The backend's own security group: the session store admits it, and it may leave only
# towards the store and HTTPS (AWS APIs).
resource "aws_security_group" "backend" {
  name        = "${local.name}-backend"
  description = "App Runner VPC connector of the ${local.name} backend"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "backend_to_store" {
  security_group_id            = aws_security_group.backend.id
  description                  = "The session store"
  referenced_security_group_id = module.session_store.security_group_id
  ip_protocol                  = "tcp"
  from_port                    = module.session_store.port
  to_port                      = module.session_store.port
}

resource "aws_vpc_security_group_egress_rule" "backend_to_https" {
  # checkov:skip=CKV_AWS_382:The backend calls AWS APIs (DynamoDB, execute-api, Secrets Manager) over HTTPS through NAT; their addresses are not a fixed set.
  security_group_id = aws_security_group.backend.id
  description       = "AWS APIs over HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

module "session_store" {
  source = "../../modules/session_store"

  name                      = local.name
  vpc_id                    = var.vpc_id
  subnet_ids                = var.private_subnet_ids
  client_security_group_ids = [aws_security_group.backend.id]
}

resource "aws_apprunner_vpc_connector" "backend" {
  vpc_connector_name = "${local.name}-backend"
  subnets            = var.private_subnet_ids
  security_groups    = [aws_security_group.backend.id]
}

# Lets App Runner pull the image from ECR.
resource "aws_iam_role" "access" {
  name = "${local.name}-apprunner-access"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "build.apprunner.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "access" {
  role       = aws_iam_role.access.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"
}

# The backend's own identity.
resource "aws_iam_role" "instance" {
  name = "${local.name}-backend"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "tasks.apprunner.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# Push to clients, find and delete connection records, read the key the handler signs its
# requests with (the module's backend policy).
resource "aws_iam_role_policy" "backend" {
  name   = "websocket-backend"
  role   = aws_iam_role.instance.id
  policy = module.websocket.backend_policy_json
}

resource "aws_iam_role_policy" "session_store" {
  name   = "session-store"
  role   = aws_iam_role.instance.id
  policy = module.session_store.client_policy_json
}

# The key the handler signs its requests to the backend with (X-Bridge-Signature). The
# module would create it itself, but the service needs its ARN while the module needs the
# service's URL: created here, and handed to the module, the cycle is gone. Its value is
# written through the write-only argument, so it appears in no plan and no state.
resource "aws_secretsmanager_secret" "signing" {
  # checkov:skip=CKV2_AWS_57:Rotation of the signing key is done by the operator (the verifier accepts AWSCURRENT and AWSPREVIOUS); no rotation function in an example.
  # checkov:skip=CKV_AWS_149:The example keeps the AWS managed key; pass kms_key_id for a customer managed one.
  name_prefix = "${local.name}-request-signing-"
  description = "HMAC key of the ${local.name} handler -> backend request signatures"
}

resource "aws_secretsmanager_secret_version" "signing" {
  secret_id                = aws_secretsmanager_secret.signing.id
  secret_string_wo         = replace("${uuid()}${uuid()}", "-", "")
  secret_string_wo_version = 1
}

resource "aws_apprunner_service" "backend" {
  service_name = "${local.name}-backend"

  source_configuration {
    auto_deployments_enabled = false
    authentication_configuration {
      access_role_arn = aws_iam_role.access.arn
    }
    image_repository {
      image_identifier      = var.backend_image
      image_repository_type = "ECR"
      image_configuration {
        port = tostring(local.port)
        runtime_environment_variables = {
          AWS_REGION                 = var.region
          CONNECTIONS_TABLE          = module.websocket.table_name
          CALLBACK_URL               = local.callback_url
          BACKEND_SIGNING_SECRET_ARN = aws_secretsmanager_secret.signing.arn
          SIGNING_KEY_TTL_SECONDS    = tostring(local.key_refresh_seconds)
          REDIS_URL                  = module.session_store.url
          REDIS_USERNAME             = module.session_store.username
          REDIS_AUTH                 = module.session_store.authentication
          REDIS_CACHE_NAME           = module.session_store.replication_group_id
        }
      }
    }
  }

  instance_configuration {
    cpu               = "1024"
    memory            = "2048"
    instance_role_arn = aws_iam_role.instance.arn
  }

  network_configuration {
    egress_configuration {
      egress_type       = "VPC"
      vpc_connector_arn = aws_apprunner_vpc_connector.backend.arn
    }
    # Public, as the handler calls it over the internet: every request must carry the
    # handler's signature (the app answers anything else 401), and it has no other route.
    ingress_configuration {
      is_publicly_accessible = true
    }
  }

  # Over TCP: no HTTP route answers without the handler's signature.
  health_check_configuration {
    protocol = "TCP"
  }
}

module "account_cloudwatch_role" {
  source = "../../modules/account_cloudwatch_role"
}

module "websocket" {
  source = "../../"

  name  = local.name
  stage = { name = local.stage_name }

  # The stage's access logs need API Gateway's account-wide CloudWatch role: this stack sets
  # it. When another stack of the account already does, drop that module and pass the ARN
  # `aws apigateway get-account --query cloudwatchRoleArn` prints.
  account_cloudwatch_role_arn = module.account_cloudwatch_role.cloudwatch_role_arn

  jwt = {
    algorithms = ["HS256"]
    secret_arn = var.jwt_secret_arn
  }

  backend = {
    url = "https://${aws_apprunner_service.backend.service_url}"
    # The key above; its ARN is unknown at plan time, so the module is told not to create one.
    request_signing = {
      secret_arn          = aws_secretsmanager_secret.signing.arn
      create_secret       = false
      key_refresh_seconds = local.key_refresh_seconds
    }
  }
}
