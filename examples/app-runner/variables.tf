variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "VPC of the session store and of the backend's VPC connector."
  type        = string
}

variable "private_subnet_ids" {
  description = <<-EOT
    Private subnets (at least two Availability Zones) for the session store and the VPC
    connector. They need a route to the internet (NAT) or VPC endpoints for the AWS APIs the
    backend calls (DynamoDB, execute-api, Secrets Manager).
  EOT
  type        = list(string)
}

variable "backend_image" {
  description = "ECR image of the backend, for example <account>.dkr.ecr.<region>.amazonaws.com/example-backend:1 (app/Dockerfile builds the example app's)."
  type        = string
}

variable "jwt_secret_arn" {
  description = "Secrets Manager secret holding the HS256 key clients' tokens are signed with (the authorizer verifies them; the backend never sees the key)."
  type        = string
}
