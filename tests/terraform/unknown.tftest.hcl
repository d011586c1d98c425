# Every input a caller may take from a resource of the same configuration plans while its
# value is unknown (the README's own call creates the JWT secret beside the module). Each run
# plans the root module through tests/terraform/fixtures/unknown with exactly one input
# unknown until apply; a run fails when any expression of the module cannot plan with it.
# The fixture passes its own request-signing secret (with create_secret = false, as a caller
# whose secret's ARN is unknown must) unless own_signing_secret = false; the README's
# snippet, which lets the module create it, is also applied on the emulator by
# tests/integration/test_readme_snippet.py.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

run "all_known" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "none"
  }
}

run "unknown_secret_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "secret_arn"
  }
}

run "unknown_fanout_kms_key_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "fanout_kms_key_arn"
  }
}

run "unknown_secret_parameter_name" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown       = "secret_parameter_name"
    secret_source = "ssm"
  }
}

run "unknown_secret_kms_key_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "secret_kms_key_arn"
  }
}

run "unknown_issuer" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "issuer"
  }
}

run "unknown_audience" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "audience"
  }
}

run "unknown_jwks_url" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown    = "jwks_url"
    asymmetric = true
  }
}

run "unknown_issuer_with_rs256" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown    = "issuer"
    asymmetric = true
  }
}

run "unknown_audience_with_rs256" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown    = "audience"
    asymmetric = true
  }
}

run "unknown_backend_url" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "backend_url"
  }
}

run "unknown_table_kms_key_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "table_kms_key_arn"
  }
}

run "unknown_log_kms_key_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "log_kms_key_arn"
  }
}

run "unknown_environment_kms_key_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "environment_kms_key_arn"
  }
}

run "unknown_subnet_ids" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "subnet_ids"
  }
}

run "unknown_security_group_ids" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "security_group_ids"
  }
}

run "unknown_own_signing_secret_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "signing_secret_arn"
  }
}

run "unknown_signing_kms_key_arn_of_own_secret" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "signing_kms_key_arn"
  }
}

run "unknown_account_cloudwatch_role_arn" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown = "cloudwatch_role_arn"
  }
}

run "unknown_signing_kms_key_arn_of_created_secret" {
  command = plan

  module {
    source = "./tests/terraform/fixtures/unknown"
  }

  variables {
    unknown            = "signing_kms_key_arn"
    own_signing_secret = false
  }
}
