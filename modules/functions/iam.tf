# One role per function, each with an inline least-privilege policy. Every statement lists
# its actions and resources; a customer managed key is usable only through the service that
# holds the data (kms:ViaService).
locals {
  # The parameter is read in the functions' own partition, region and account.
  secret_parameter_arn = (
    var.jwt.secret_parameter_name == null ? null :
    format(
      "arn:%s:ssm:%s:%s:parameter/%s",
      data.aws_partition.current.partition, local.region,
      data.aws_caller_identity.current.account_id,
      trimprefix(var.jwt.secret_parameter_name, "/"),
    )
  )

  log_statements = {
    for key in keys(local.functions) : key => {
      Sid      = "WriteOwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.this[key].arn}:*"]
    }
  }

  authorizer_statements = concat(
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
      Condition = {
        StringEquals = {
          "kms:ViaService" = [for service in(var.jwt.secret_parameter_name == null ? ["secretsmanager"] : ["ssm"]) : "${service}.${local.region}.amazonaws.com"]
        }
      }
    }],
  )

  # The handler writes and deletes its connection records, reads the signing key, and
  # closes a connection whose token expired. Reading the indexes and pushing are the
  # backend's business (the root's backend_policy_json).
  connection_handler_statements = concat(
    [{
      Sid      = "ConnectionRecords"
      Effect   = "Allow"
      Action   = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
      Resource = [var.table_arn]
    }],
    var.table_kms_key_arn == null ? [] : [{
      Sid      = "UseTableKeyThroughDynamoDB"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
      Resource = [var.table_kms_key_arn]
      Condition = {
        StringEquals = { "kms:ViaService" = ["dynamodb.${local.region}.amazonaws.com"] }
      }
    }],
    # $disconnect deletes the closed connection's topic subscriptions (fanout.enabled):
    # found through the keys-only index by connection, deleted in batches.
    var.subscriptions_table_arn == null ? [] : [{
      Sid      = "ForgetSubscriptions"
      Effect   = "Allow"
      Action   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
      Resource = [var.subscriptions_table_arn, "${var.subscriptions_table_arn}/index/connectionId-index"]
    }],
    local.signing_enabled ? [{
      Sid      = "ReadSigningSecret"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.signing_secret_arn]
    }] : [],
    var.backend.request_signing.kms_key_arn == null ? [] : [{
      Sid      = "DecryptSigningSecret"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.backend.request_signing.kms_key_arn]
      Condition = {
        StringEquals = { "kms:ViaService" = ["secretsmanager.${local.region}.amazonaws.com"] }
      }
    }],
    # A message after the token's exp: the handler posts `token_expired` to that connection,
    # then closes it. Both before it returns: a route response cannot reach a closed socket.
    var.jwt.expiry_enforcement_enabled ? [{
      Sid      = "CloseExpiredConnections"
      Effect   = "Allow"
      Action   = ["execute-api:ManageConnections"]
      Resource = [for method in ["POST", "DELETE"] : "${var.api_execution_arn}/${var.stage_name}/${method}/@connections/*"]
    }] : [],
  )

  policies = {
    authorizer = jsonencode({
      Version   = "2012-10-17"
      Statement = concat([local.log_statements["authorizer"]], local.authorizer_statements)
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

resource "aws_iam_role" "this" {
  for_each = local.functions

  name               = local.role_names[each.key]
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
