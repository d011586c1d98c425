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
    aws_secretsmanager_secret_version.signing,
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
