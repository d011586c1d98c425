# The OpenConnections gauge (ws_bridge.gauge.handler): every minute, a COUNT scan of the
# connections table's unexpired records, written as an EMF metric. Its read cost grows with
# the table (docs/fanout.md, "The open-connections gauge"); gauge_enabled = false turns it off.
locals {
  gauge_environment = {
    CONNECTIONS_TABLE = var.connections_table_name
    LOG_LEVEL         = var.log_level
    METRICS_NAMESPACE = var.metrics_namespace
    METRICS_SERVICE   = var.name
  }

  gauge_policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "WriteOwnLogGroup"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = [for arn in aws_cloudwatch_log_group.gauge[*].arn : "${arn}:*"]
        },
        {
          Sid      = "CountConnections"
          Effect   = "Allow"
          Action   = ["dynamodb:Scan"]
          Resource = [var.connections_table_arn]
        },
      ],
      local.table_key_statements,
    )
  })
}

resource "aws_cloudwatch_log_group" "gauge" {
  count = var.gauge_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn).
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, validated by the root against CloudWatch's values.
  name              = "/aws/lambda/${local.gauge_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "gauge" {
  count = var.gauge_enabled ? 1 : 0

  name               = "${var.name}-gauge-${local.region}"
  description        = "Execution role of the ${local.gauge_name} function."
  assume_role_policy = local.assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "gauge" {
  count = var.gauge_enabled ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.gauge[0].id
  policy = local.gauge_policy
}

resource "aws_lambda_function" "gauge" {
  count = var.gauge_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_116:EventBridge invokes it every minute; a missed count is replaced by the next one.
  #checkov:skip=CKV_AWS_117:The gauge reaches DynamoDB through its public endpoint, like the other functions by default.
  #checkov:skip=CKV_AWS_115:One invocation a minute; reserved concurrency would take capacity from the account's other functions.
  #checkov:skip=CKV_AWS_173:The environment holds no secret; AWS encrypts it at rest.
  #checkov:skip=CKV_AWS_272:The package is built reproducibly from this repository and its hash pins the deployment.
  function_name    = local.gauge_name
  description      = "Counts the open connections (unexpired records) every minute: the OpenConnections metric."
  role             = aws_iam_role.gauge[0].arn
  handler          = "ws_bridge.gauge.handler"
  runtime          = var.runtime
  architectures    = [var.architecture]
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  memory_size      = 256
  timeout          = 60

  environment {
    variables = local.gauge_environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.gauge, aws_iam_role_policy.gauge]
}

resource "aws_cloudwatch_event_rule" "gauge" {
  count = var.gauge_enabled ? 1 : 0

  name                = local.gauge_name
  description         = "Runs ${local.gauge_name} every minute."
  schedule_expression = "rate(1 minute)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "gauge" {
  count = var.gauge_enabled ? 1 : 0

  rule = aws_cloudwatch_event_rule.gauge[0].name
  arn  = aws_lambda_function.gauge[0].arn
}

resource "aws_lambda_permission" "gauge" {
  count = var.gauge_enabled ? 1 : 0

  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.gauge[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.gauge[0].arn
}
