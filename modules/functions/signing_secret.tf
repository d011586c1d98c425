# The HMAC key that signs every handler-to-backend request (X-Bridge-Signature). Unless the
# caller names a secret, the module creates one. Its value is written through the
# write-only argument secret_string_wo, so it appears in no plan and no state, and it is
# written once (bump local.signing_secret_version, or rotate in Secrets Manager, to replace
# it). The value is two random UUIDs (Terraform draws them from crypto/rand): 244 random
# bits as 64 hexadecimal characters. The provider's ephemeral
# aws_secretsmanager_random_password would do the same, but Terraform's mock providers
# (terraform test) refuse any configuration holding an ephemeral resource, even with count 0.
locals {
  signing_enabled = var.backend.request_signing.enabled
  # create_secret decides when given; otherwise a null secret_arn does. Whether an ARN from
  # a resource of the caller's configuration is null is unknown at plan time, and so would
  # be the count: such callers set create_secret = false.
  create_signing_secret = var.backend.request_signing.enabled && (
    var.backend.request_signing.create_secret != null
    ? var.backend.request_signing.create_secret
    : var.backend.request_signing.secret_arn == null
  )
  signing_secret_arn = (
    !local.signing_enabled ? null :
    local.create_signing_secret ? one(aws_secretsmanager_secret.signing[*].arn) :
    var.backend.request_signing.secret_arn
  )
  signing_secret_version = 1
}

resource "aws_secretsmanager_secret" "signing" {
  count = local.create_signing_secret ? 1 : 0

  #checkov:skip=CKV2_AWS_57:Rotation needs a rotation function the backend owns (it must accept the old and the new key during the switch, which the verifier does); rotate with `aws secretsmanager put-secret-value` or a function of your own.
  #checkov:skip=CKV_AWS_149:Secrets Manager encrypts every secret at rest; a customer managed key is optional (backend.request_signing.kms_key_arn).
  name_prefix             = "${var.name}-backend-signing-"
  description             = "HMAC-SHA256 key signing the requests of ${var.name}'s connection handler to its backend."
  kms_key_id              = var.backend.request_signing.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "signing" {
  count = local.create_signing_secret ? 1 : 0

  secret_id                = aws_secretsmanager_secret.signing[0].id
  secret_string_wo         = replace("${uuid()}${uuid()}", "-", "")
  secret_string_wo_version = local.signing_secret_version
}
