locals {
  # HS* and asymmetric algorithms never mix (validated by the root), so the first one says
  # which kind of key the authorizer verifies with.
  asymmetric = !startswith(var.jwt.algorithms[0], "HS")

  # Both functions run the handler package. The authorizer verifies asymmetric signatures
  # with `cryptography`, compiled per architecture and shipped as a layer for python3.12
  # only: other runtimes take the caller's own layer.
  package_path      = coalesce(var.package_path, "${var.packages_directory}/ws_bridge.zip")
  crypto_runtimes   = ["python3.12"]
  crypto_layer_path = coalesce(var.crypto_layer_path, "${var.packages_directory}/jwt-crypto-layer-python3.12-${var.architecture}.zip")

  # The parameter is read in the functions' own partition, region and account. The region's
  # `name` is deprecated in provider 6 in favour of `region`, which 5.x lacks; `id` is the
  # region name in both.
  secret_parameter_arn = (
    var.jwt.secret_parameter_name == null ? null :
    format(
      "arn:%s:ssm:%s:%s:parameter/%s",
      data.aws_partition.current.partition, data.aws_region.current.id,
      data.aws_caller_identity.current.account_id,
      trimprefix(var.jwt.secret_parameter_name, "/"),
    )
  )

  # docs/design.md, "Environment contract": exactly these names; unset values are left out.
  authorizer_environment = {
    JWT_ALGORITHMS       = join(",", var.jwt.algorithms)
    JWT_SECRET_ARN       = var.jwt.secret_arn
    JWT_SECRET_PARAMETER = var.jwt.secret_parameter_name
    JWT_JWKS_URL         = var.jwt.jwks_url
    JWT_ISSUER           = var.jwt.issuer
    JWT_AUDIENCE         = var.jwt.audience
    JWT_LEEWAY_SECONDS   = tostring(var.jwt.leeway_seconds)
    JWT_USER_CLAIM       = var.jwt.user_claim
    JWT_SESSION_CLAIM    = var.jwt.session_claim
    ALLOWED_SOURCE_CIDRS = length(var.allowed_source_cidrs) == 0 ? null : join(",", var.allowed_source_cidrs)
    LOG_LEVEL            = var.log_level
  }

  connection_handler_environment = {
    CONNECTIONS_TABLE          = var.table_name
    BACKEND_URL                = trimsuffix(var.backend.url, "/")
    BACKEND_VALIDATE_PATH      = var.backend.paths.validate
    BACKEND_MESSAGE_PATH       = var.backend.paths.message
    BACKEND_DISCONNECT_PATH    = var.backend.paths.disconnect
    BACKEND_TIMEOUT_SECONDS    = tostring(var.backend.timeout_seconds)
    BACKEND_FAIL_OPEN          = tostring(var.backend.fail_open)
    DISCONNECT_TIMEOUT_SECONDS = tostring(var.backend.disconnect_timeout_seconds)
    CONNECTION_TTL_SECONDS     = tostring(var.connection_ttl_seconds)
    LOG_LEVEL                  = var.log_level
  }

  functions = {
    authorizer = {
      description          = "Verifies the JWT of a WebSocket $connect and answers API Gateway's REQUEST authorizer call."
      handler              = "ws_bridge.authorizer.handler"
      memory_size          = var.authorizer.memory_size
      timeout              = var.authorizer.timeout
      reserved_concurrency = var.authorizer.reserved_concurrency
    }
    connection_handler = {
      description          = "Handles $connect, $disconnect and messages of the WebSocket API by calling the backend."
      handler              = "ws_bridge.handler.handler"
      memory_size          = var.connection_handler.memory_size
      timeout              = var.connection_handler.timeout
      reserved_concurrency = var.connection_handler.reserved_concurrency
    }
  }

  # Kept apart from local.functions, whose keys and types every for_each needs at plan time:
  # a value from a resource the caller creates beside the module (a secret's ARN, a pool's
  # issuer) is unknown until apply, and so is whether it is null. Unset values are dropped
  # with the condition on the value alone, so an unknown value only makes the map unknown,
  # never of another type.
  environments = {
    authorizer         = tomap({ for key, value in local.authorizer_environment : key => value if value != null })
    connection_handler = tomap(local.connection_handler_environment)
  }

  # The handler's $connect budget besides the backend call (see the precondition below) and
  # the longest timeout API Gateway leaves a function (its 29 s integration limit).
  dynamodb_budget_seconds = 7
  max_function_timeout    = 28
  # The least whole handler timeout above the budget, and the longest backend timeout the
  # current handler timeout allows (both strictly: backend + 7 < handler).
  least_handler_timeout = floor(var.backend.timeout_seconds + local.dynamodb_budget_seconds) + 1
  backend_timeout_below = var.connection_handler.timeout - local.dynamodb_budget_seconds
  handler_timeout_advice = join(" ", [
    "connection_handler.timeout (${var.connection_handler.timeout} s) must be more than backend.timeout_seconds + ${local.dynamodb_budget_seconds} (${var.backend.timeout_seconds + local.dynamodb_budget_seconds} s):",
    "on $connect the handler may wait backend.timeout_seconds for the backend and then up to about ${local.dynamodb_budget_seconds} s for DynamoDB before it answers, and Lambda must not end it first.",
    local.least_handler_timeout <= local.max_function_timeout
    ? "Set connection_handler.timeout to ${local.least_handler_timeout} or more (at most ${local.max_function_timeout})${local.backend_timeout_below > 0 ? ", or lower backend.timeout_seconds below ${local.backend_timeout_below}" : ""}."
    : "No connection_handler.timeout fits a ${var.backend.timeout_seconds} s backend (${local.max_function_timeout} s at most): lower backend.timeout_seconds below ${local.max_function_timeout - local.dynamodb_budget_seconds} and set connection_handler.timeout to ${local.max_function_timeout}${local.backend_timeout_below > 0 && var.connection_handler.timeout < local.max_function_timeout ? ", or keep connection_handler.timeout and lower backend.timeout_seconds below ${local.backend_timeout_below}" : ""}.",
  ])

  function_names = { for key in keys(local.functions) : key => "${var.name}-${replace(key, "_", "-")}" }

  # Every statement has the same shape (lists of actions and resources) so that optional
  # statements concatenate into one list.
  log_statements = {
    for key in keys(local.functions) : key => {
      Sid      = "WriteOwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.this[key].arn}:*"]
    }
  }

  secret_statements = concat(
    var.jwt.secret_arn == null ? [] : [{
      Sid      = "ReadJwtSecret"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [var.jwt.secret_arn]
    }],
    local.secret_parameter_arn == null ? [] : [{
      Sid      = "ReadJwtSecretParameter"
      Effect   = "Allow"
      Action   = ["ssm:GetParameter"]
      Resource = [local.secret_parameter_arn]
    }],
    var.jwt.secret_kms_key_arn == null ? [] : [{
      Sid      = "DecryptJwtSecret"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.jwt.secret_kms_key_arn]
    }],
  )

  # The handler only writes and deletes its connection records. Reading the session index
  # and @connections are the backend's business (see the root's backend_push_policy_json).
  connection_handler_statements = [
    {
      Sid      = "ConnectionRecords"
      Effect   = "Allow"
      Action   = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
      Resource = [var.table_arn]
    },
  ]

  policies = {
    authorizer = jsonencode({
      Version   = "2012-10-17"
      Statement = concat([local.log_statements["authorizer"]], local.secret_statements)
    })
    connection_handler = jsonencode({
      Version   = "2012-10-17"
      Statement = concat([local.log_statements["connection_handler"]], local.connection_handler_statements)
    })
  }

  # X-Ray accepts no resource-level permissions: these two write actions need "*".
  xray_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteTraces"
      Effect   = "Allow"
      Action   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      Resource = ["*"]
    }]
  })

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

# Created before the functions so that Lambda never creates them itself (without retention
# or encryption), and so that each role can be limited to its own group.
resource "aws_cloudwatch_log_group" "this" {
  for_each = local.functions

  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn) because its key policy must be written for the logs service.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, which defaults to 365 days and is validated against CloudWatch's values; checkov cannot resolve it through the module calls.
  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  for_each = local.functions

  name               = local.function_names[each.key]
  description        = "Execution role of the ${local.function_names[each.key]} function."
  assume_role_policy = local.assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = local.functions

  name   = "least-privilege"
  role   = aws_iam_role.this[each.key].id
  policy = local.policies[each.key]
}

resource "aws_iam_role_policy" "xray" {
  for_each = var.tracing_mode == "Active" ? local.functions : {}

  name   = "xray"
  role   = aws_iam_role.this[each.key].id
  policy = local.xray_policy
}

# Network interfaces in the caller's subnets; AWS's narrowest managed policy for it.
resource "aws_iam_role_policy_attachment" "vpc" {
  for_each = var.vpc_config == null ? {} : local.functions

  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
}

resource "aws_lambda_layer_version" "crypto" {
  count = local.asymmetric ? 1 : 0

  layer_name               = "${var.name}-jwt-crypto"
  description              = "cryptography for the authorizer's RS*, ES* and PS* signature checks."
  filename                 = local.crypto_layer_path
  source_code_hash         = filebase64sha256(local.crypto_layer_path)
  compatible_runtimes      = [var.runtime]
  compatible_architectures = [var.architecture]

  lifecycle {
    precondition {
      condition     = var.crypto_layer_path != null || contains(local.crypto_runtimes, var.runtime)
      error_message = "jwt.algorithms lists asymmetric algorithms, which need the cryptography layer, and the module ships it for ${join(", ", local.crypto_runtimes)} only: set runtime to python3.12, or set crypto_layer_path to a layer zip (files under python/) you built for ${var.runtime} and ${var.architecture}."
    }
  }
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  #checkov:skip=CKV_AWS_116:API Gateway invokes both functions synchronously; a dead-letter queue only receives failed asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Running in a VPC is optional (vpc_config); the functions reach the backend and the JWKS URL over HTTPS and AWS APIs through their endpoints.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (authorizer/connection_handler.reserved_concurrency); reserving by default would take capacity from the account's other functions.
  #checkov:skip=CKV_AWS_173:The environment holds no secret (the JWT key is read from Secrets Manager or SSM at run time); AWS encrypts it at rest, a customer key is optional (environment_kms_key_arn).
  #checkov:skip=CKV_AWS_272:The package is built reproducibly from this repository and its hash pins the deployment; code signing needs a signer profile outside this module.
  function_name                  = local.function_names[each.key]
  description                    = each.value.description
  role                           = aws_iam_role.this[each.key].arn
  handler                        = each.value.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  filename                       = local.package_path
  source_code_hash               = filebase64sha256(local.package_path)
  memory_size                    = each.value.memory_size
  timeout                        = each.value.timeout
  reserved_concurrent_executions = each.value.reserved_concurrency
  kms_key_arn                    = var.environment_kms_key_arn
  layers                         = each.key == "authorizer" ? aws_lambda_layer_version.crypto[*].arn : []

  environment {
    variables = local.environments[each.key]
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]

    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
    aws_iam_role_policy.xray,
    aws_iam_role_policy_attachment.vpc,
  ]

  lifecycle {
    # On $connect the handler may wait backend.timeout_seconds for the validate call, then
    # up to about 7 s for DynamoDB's worst case (3 attempts of 1 s connect + 1 s read, plus
    # backoff), and must still answer before Lambda ends it. Checked on the handler's
    # instance only, so that a plan prints each message once.
    precondition {
      condition     = each.key != "connection_handler" || var.backend.timeout_seconds + local.dynamodb_budget_seconds < var.connection_handler.timeout
      error_message = local.handler_timeout_advice
    }

    precondition {
      condition     = each.key != "connection_handler" || var.backend.disconnect_timeout_seconds < var.connection_handler.timeout
      error_message = "backend.disconnect_timeout_seconds (${var.backend.disconnect_timeout_seconds} s) must be below connection_handler.timeout (${var.connection_handler.timeout} s), so that the disconnect notice ends before Lambda ends the handler: lower backend.disconnect_timeout_seconds below ${var.connection_handler.timeout} or raise connection_handler.timeout (at most 28)."
    }
  }
}
