# Created before the functions so that Lambda never creates them itself (without retention
# or encryption), and so that each role can be limited to its own group. With
# log_kms_key_arn, the key's policy must let the CloudWatch Logs service use it: that grant
# belongs to the key's owner (the logs service, not the functions, encrypts), so nothing
# here grants KMS to the roles.
resource "aws_cloudwatch_log_group" "this" {
  for_each = local.functions

  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn) because its key policy must be written for the logs service.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, which defaults to 365 days and is validated against CloudWatch's values; checkov cannot resolve it through the module calls.
  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}
