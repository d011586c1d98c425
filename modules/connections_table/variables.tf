# Inputs are validated by the root module, which is the supported entry point; the types
# here keep a direct caller honest.

variable "name" {
  description = "Prefix of the table name; the table is named `<name>-connections`."
  type        = string
  nullable    = false
}

variable "billing_mode" {
  description = "PAY_PER_REQUEST or PROVISIONED."
  type        = string
  nullable    = false
}

variable "read_capacity" {
  description = "Read capacity units of the table and of each index when billing_mode is PROVISIONED."
  type        = number
  nullable    = false
}

variable "write_capacity" {
  description = "Write capacity units of the table and of each index when billing_mode is PROVISIONED."
  type        = number
  nullable    = false
}

variable "point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery is on."
  type        = bool
  nullable    = false
}

variable "deletion_protection_enabled" {
  description = "Whether DynamoDB refuses to delete the table."
  type        = bool
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for server-side encryption; null uses the AWS managed key (aws/dynamodb)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
  nullable    = false
}
