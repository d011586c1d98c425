# The custom domain (modules/custom_domain), planned with a mocked AWS provider. The URLs it
# outputs are what a backend and clients use, so each form of the base path is checked.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = aws_acm_certificate.this
  override_during = plan
  values = {
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/created-0000"
    domain_validation_options = [{
      domain_name           = "ws.example.com"
      resource_record_name  = "_abc123.ws.example.com."
      resource_record_type  = "CNAME"
      resource_record_value = "_def456.acm-validations.aws."
    }]
  }
}

override_resource {
  target          = aws_route53_record.validation
  override_during = plan
  values = {
    fqdn = "_abc123.ws.example.com"
  }
}

override_resource {
  target          = aws_acm_certificate_validation.this
  override_during = plan
  values = {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/created-0000"
  }
}

override_resource {
  target          = aws_apigatewayv2_domain_name.this
  override_during = plan
  values = {
    id = "ws.example.com"
    domain_name_configuration = {
      target_domain_name = "d-abcdef1234.execute-api.eu-west-1.amazonaws.com"
      hosted_zone_id     = "ZLY8HYME6SFDD"
    }
  }
}

override_resource {
  target          = aws_apigatewayv2_api_mapping.this
  override_during = plan
  values = {
    domain_name = "ws.example.com"
  }
}

variables {
  domain_name     = "ws.example.com"
  api_id          = "a1b2c3d4e5"
  stage_name      = "prod"
  route53_zone_id = "Z0123456789ABCDEFGHIJ"
  tags            = { team = "platform" }
}

run "created_certificate_root_mapping" {
  command = plan

  module {
    source = "./modules/custom_domain"
  }

  assert {
    condition     = aws_acm_certificate.this[0].domain_name == "ws.example.com" && aws_acm_certificate.this[0].validation_method == "DNS"
    error_message = "Without certificate_arn the module must request a DNS-validated certificate for the domain."
  }

  assert {
    condition     = aws_route53_record.validation[0].zone_id == "Z0123456789ABCDEFGHIJ" && aws_route53_record.validation[0].name == "_abc123.ws.example.com." && aws_route53_record.validation[0].type == "CNAME" && aws_route53_record.validation[0].records == toset(["_def456.acm-validations.aws."])
    error_message = "The validation record must be the one ACM asks for, in the given zone."
  }

  assert {
    condition     = aws_acm_certificate_validation.this[0].validation_record_fqdns == toset(["_abc123.ws.example.com"])
    error_message = "The certificate must be waited for through its validation record."
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].endpoint_type == "REGIONAL" && aws_apigatewayv2_domain_name.this.domain_name_configuration[0].security_policy == "TLS_1_2"
    error_message = "The domain must be REGIONAL with the TLS 1.2 security policy."
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].certificate_arn == "arn:aws:acm:eu-west-1:123456789012:certificate/created-0000"
    error_message = "The domain must serve the validated certificate."
  }

  assert {
    condition     = aws_apigatewayv2_api_mapping.this.api_id == "a1b2c3d4e5" && aws_apigatewayv2_api_mapping.this.stage == "prod" && aws_apigatewayv2_api_mapping.this.api_mapping_key == null
    error_message = "Without a base path the mapping must map the domain's root to the stage."
  }

  assert {
    condition     = aws_route53_record.alias[0].name == "ws.example.com" && aws_route53_record.alias[0].type == "A" && one(aws_route53_record.alias[0].alias).name == "d-abcdef1234.execute-api.eu-west-1.amazonaws.com" && one(aws_route53_record.alias[0].alias).zone_id == "ZLY8HYME6SFDD"
    error_message = "The alias record must point the domain at API Gateway's regional domain name and zone."
  }

  assert {
    condition     = output.websocket_url == "wss://ws.example.com"
    error_message = "Without a base path clients connect to wss://<domain> (no stage: the mapping selects it)."
  }

  assert {
    condition     = output.callback_url == "https://ws.example.com"
    error_message = "Without a base path the @connections endpoint is https://<domain>."
  }

  assert {
    condition     = output.connections_url == "https://ws.example.com/@connections"
    error_message = "Without a base path the @connections URL is https://<domain>/@connections."
  }
}

run "given_certificate_with_base_path" {
  command = plan

  module {
    source = "./modules/custom_domain"
  }

  variables {
    certificate_arn     = "arn:aws:acm:eu-west-1:123456789012:certificate/given-1111"
    api_mapping_key     = "realtime"
    route53_zone_id     = null
    create_alias_record = false
  }

  assert {
    condition     = length(aws_acm_certificate.this) == 0 && length(aws_route53_record.validation) == 0 && length(aws_acm_certificate_validation.this) == 0 && length(aws_route53_record.alias) == 0
    error_message = "With a given certificate and no alias record the module must create no certificate and no DNS record."
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].certificate_arn == "arn:aws:acm:eu-west-1:123456789012:certificate/given-1111"
    error_message = "The domain must serve the given certificate."
  }

  assert {
    condition     = aws_apigatewayv2_api_mapping.this.api_mapping_key == "realtime"
    error_message = "The mapping must use api_mapping_key as its base path."
  }

  assert {
    condition     = output.websocket_url == "wss://ws.example.com/realtime"
    error_message = "With a base path clients connect to wss://<domain>/<base path>."
  }

  assert {
    condition     = output.callback_url == "https://ws.example.com/realtime"
    error_message = "With a base path the @connections endpoint is https://<domain>/<base path>."
  }

  assert {
    condition     = output.connections_url == "https://ws.example.com/realtime/@connections"
    error_message = "With a base path the @connections URL is https://<domain>/<base path>/@connections."
  }
}

run "empty_base_path_is_the_root" {
  command = plan

  module {
    source = "./modules/custom_domain"
  }

  variables {
    api_mapping_key = ""
  }

  assert {
    condition     = aws_apigatewayv2_api_mapping.this.api_mapping_key == null && output.callback_url == "https://ws.example.com" && output.websocket_url == "wss://ws.example.com"
    error_message = "An empty api_mapping_key must map the root, without a trailing slash in the URLs."
  }
}

run "zone_required_to_create_the_certificate" {
  command = plan

  module {
    source = "./modules/custom_domain"
  }

  variables {
    route53_zone_id     = null
    create_alias_record = false
  }

  expect_failures = [aws_apigatewayv2_domain_name.this]
}

run "zone_required_for_the_alias_record" {
  command = plan

  module {
    source = "./modules/custom_domain"
  }

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/given-1111"
    route53_zone_id = null
  }

  expect_failures = [aws_apigatewayv2_domain_name.this]
}

run "rejects_a_url_as_domain" {
  command = plan
  module {
    source = "./modules/custom_domain"
  }
  variables {
    domain_name = "wss://ws.example.com/"
  }
  expect_failures = [var.domain_name]
}

run "rejects_multi_level_base_path" {
  command = plan
  module {
    source = "./modules/custom_domain"
  }
  variables {
    api_mapping_key = "v1/ws"
  }
  expect_failures = [var.api_mapping_key]
}

run "rejects_a_non_acm_certificate" {
  command = plan
  module {
    source = "./modules/custom_domain"
  }
  variables {
    certificate_arn = "arn:aws:iam::123456789012:server-certificate/ws"
  }
  expect_failures = [var.certificate_arn]
}
