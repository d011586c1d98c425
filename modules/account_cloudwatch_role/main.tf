# API Gateway's CloudWatch role: one setting per AWS account and region, which every REST,
# HTTP and WebSocket API of that account and region uses to write execution and access
# logs. It is account-wide state, so it lives here, apart from the per-app module: apply it
# once per account and region (a "platform" stack), and pass its cloudwatch_role_arn output
# to every stack of the bridge in that region.
#
# Lifecycle (docs/provider-6.md): with hashicorp/aws 5.x, destroying aws_api_gateway_account
# only removes it from the state: the account keeps naming the role, so destroy the role
# last, after setting another role (or none) in the account. With 6.x, destroy always resets
# the account's setting (6.0 removed `reset_on_delete`), and every API of the region loses
# logging until another role is set; a `removed { from = ... lifecycle { destroy = false } }`
# block keeps the setting instead. The argument is left unset so that one configuration
# works with both majors.

data "aws_partition" "current" {}

data "aws_region" "current" {}

resource "aws_iam_role" "this" {
  # IAM names are global: the region keeps a second region's role from colliding.
  name        = "${var.name}-${data.aws_region.current.id}"
  description = "Lets API Gateway write execution and access logs of this account and region."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "apigateway.amazonaws.com" }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.this.arn

  depends_on = [aws_iam_role_policy_attachment.this]
}
