# The smallest call: HS256 tokens signed with a key kept in Secrets Manager, a backend, and
# a word on the account's CloudWatch role for API Gateway, which access logs need.
provider "aws" {
  region = var.region
}

# One per account and region: keep it in the stack that owns account-wide settings.
module "account_cloudwatch_role" {
  source = "../../modules/account_cloudwatch_role"
}

module "websocket" {
  source = "../../"

  name = "ws-minimal"

  # Access logs need API Gateway's CloudWatch role, one per account and region. This creates
  # it; when another stack of the account already sets it, use
  # account_has_cloudwatch_role = true instead.
  account_cloudwatch_role_arn = module.account_cloudwatch_role.cloudwatch_role_arn

  backend = {
    url = var.backend_url
  }

  jwt = {
    secret_arn = var.jwt_secret_arn
  }
}
