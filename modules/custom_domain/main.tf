# A custom domain for the WebSocket API (docs/design.md, "Custom domain"): an ACM certificate
# (given, or created and validated through Route 53), a REGIONAL API Gateway domain name with
# the TLS 1.2 security policy, an API mapping to the stage (optionally under a base path) and
# an optional Route 53 alias record.

locals {
  create_certificate = var.certificate_arn == null
  # A record needs a zone; when none is given where one is needed, the domain name's
  # precondition fails the plan with an explanation, and this placeholder (never applied)
  # only keeps the records from failing first on a missing zone_id. No count depends on
  # the zone: its id is often unknown until apply.
  zone_id   = var.route53_zone_id != null ? var.route53_zone_id : "route53-zone-id-required"
  base_path = var.api_mapping_key == null || var.api_mapping_key == "" ? "" : "/${var.api_mapping_key}"
}

resource "aws_acm_certificate" "this" {
  count = local.create_certificate ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# One domain name, no alternative names: exactly one validation record. count, not for_each,
# because the record's name is only known once the certificate exists.
resource "aws_route53_record" "validation" {
  count = local.create_certificate ? 1 : 0

  zone_id         = local.zone_id
  name            = one(aws_acm_certificate.this[0].domain_validation_options).resource_record_name
  type            = one(aws_acm_certificate.this[0].domain_validation_options).resource_record_type
  records         = [one(aws_acm_certificate.this[0].domain_validation_options).resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = local.create_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = aws_route53_record.validation[*].fqdn
}

resource "aws_apigatewayv2_domain_name" "this" {
  domain_name = var.domain_name

  domain_name_configuration {
    certificate_arn = local.create_certificate ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.route53_zone_id != null || (!local.create_certificate && !var.create_alias_record)
      error_message = "route53_zone_id is required when the module creates the certificate (certificate_arn = null) or the alias record (create_alias_record = true)."
    }
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  api_id          = var.api_id
  domain_name     = aws_apigatewayv2_domain_name.this.id
  stage           = var.stage_name
  api_mapping_key = local.base_path == "" ? null : var.api_mapping_key
}

resource "aws_route53_record" "alias" {
  count = var.create_alias_record ? 1 : 0

  zone_id = local.zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}
