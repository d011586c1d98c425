variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "backend_url" {
  description = "Base URL of your HTTPS backend (the backend contract in docs/design.md)."
  type        = string
}

variable "jwt_secret_arn" {
  description = "ARN of the Secrets Manager secret whose SecretString is the HS256 signing key your backend issues tokens with."
  type        = string
}
