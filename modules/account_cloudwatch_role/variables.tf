variable "name" {
  description = "Prefix of the role's name; the role is `<name>-<region>` (IAM names are global to the account)."
  type        = string
  default     = "apigateway-cloudwatch"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,48}$", var.name))
    error_message = "name must be 1 to 48 characters of letters, digits and +=,.@_- (IAM role names, with room for -<region>)."
  }
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
  nullable    = false
}
