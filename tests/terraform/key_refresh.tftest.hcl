# backend.request_signing.key_refresh_seconds: a whole number of seconds from 1 to 3600 (the
# handler's BACKEND_SIGNING_KEY_REFRESH_SECONDS, which settings.py bounds alike). Each bad
# value fails the plan on var.backend alone (tools/terraform_test.py).

mock_provider "aws" {}

override_resource {
  target          = module.functions.aws_secretsmanager_secret.signing
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"
  }
}

variables {
  name                        = "demo"
  account_cloudwatch_role_arn = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-eu-west-1"
  jwt = {
    secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf"
  }
}

run "backend_request_signing_key_refresh_seconds_too_small" {
  command = plan

  variables {
    backend = {
      url             = "https://backend.example.com"
      request_signing = { key_refresh_seconds = 0 }
    }
  }

  expect_failures = [var.backend]
}

run "backend_request_signing_key_refresh_seconds_too_large" {
  command = plan

  variables {
    backend = {
      url             = "https://backend.example.com"
      request_signing = { key_refresh_seconds = 3601 }
    }
  }

  expect_failures = [var.backend]
}

run "backend_request_signing_key_refresh_seconds_whole" {
  command = plan

  variables {
    backend = {
      url             = "https://backend.example.com"
      request_signing = { key_refresh_seconds = 1.5 }
    }
  }

  expect_failures = [var.backend]
}

run "backend_request_signing_key_refresh_seconds_bounds_accepted" {
  command = plan

  variables {
    backend = {
      url             = "https://backend.example.com"
      request_signing = { key_refresh_seconds = 3600 }
    }
  }
}
