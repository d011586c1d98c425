variable "name" {
  description = "Prefix of every name: the replication group, subnet group and security group are `<name>-sessions`."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "engine" {
  description = "Cache engine: `valkey` or `redis` (both speak the Redis protocol)."
  type        = string
  default     = "valkey"
  nullable    = false

  validation {
    condition     = contains(["valkey", "redis"], var.engine)
    error_message = "engine must be valkey or redis."
  }
}

variable "engine_version" {
  description = "Engine version, for example `8.0` (Valkey) or `7.1` (Redis OSS). IAM authentication needs Valkey 7.2+ or Redis OSS 7.0+."
  type        = string
  default     = "8.0"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9x]+(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must look like 8.0, 7.1 or 6.x."
  }
}

variable "node_type" {
  description = "Node type, for example `cache.t4g.micro`."
  type        = string
  default     = "cache.t4g.micro"
  nullable    = false

  validation {
    condition     = startswith(var.node_type, "cache.")
    error_message = "node_type must be an ElastiCache node type such as cache.t4g.micro."
  }
}

variable "num_cache_clusters" {
  description = "Nodes in the replication group: one primary and num_cache_clusters - 1 replicas. With more than one, automatic failover and Multi-AZ are on."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6 && floor(var.num_cache_clusters) == var.num_cache_clusters
    error_message = "num_cache_clusters must be a whole number from 1 to 6."
  }
}

variable "port" {
  description = "TCP port the nodes listen on."
  type        = number
  default     = 6379
  nullable    = false

  validation {
    condition     = var.port >= 1024 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "port must be a whole number from 1024 to 65535."
  }
}

variable "vpc_id" {
  description = "VPC of the subnets; the security group is created there."
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets of the cache subnet group (one per Availability Zone the nodes may use)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "client_security_group_ids" {
  description = "Security groups of the clients (the backend): the only sources admitted on `port`."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "authentication" {
  description = <<-EOT
    How clients authenticate:
    - `iam` (default): an ElastiCache user `<name>-backend` with IAM authentication in a user
      group (the default user is disabled). The backend signs a short-lived token with its role
      (`elasticache:Connect`); no password exists, so none sits in the Terraform state.
    - `auth_token`: a generated AUTH token kept in a Secrets Manager secret. The replication
      group's `auth_token` has no write-only form in the AWS provider, so the token is in the
      state (marked sensitive): protect the state accordingly.
  EOT
  type        = string
  default     = "iam"
  nullable    = false

  validation {
    condition     = contains(["iam", "auth_token"], var.authentication)
    error_message = "authentication must be iam or auth_token."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for encryption at rest (and the auth token's secret); null uses AWS owned/managed keys."
  type        = string
  default     = null
}

variable "snapshot_retention_limit" {
  description = "Days of automatic snapshots kept; 0 turns them off."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.snapshot_retention_limit >= 0 && var.snapshot_retention_limit <= 35
    error_message = "snapshot_retention_limit must be 0 to 35 days."
  }
}

variable "apply_immediately" {
  description = "Whether changes apply at once instead of in the next maintenance window."
  type        = bool
  default     = false
  nullable    = false
}

variable "secret_recovery_window_in_days" {
  description = "Days Secrets Manager keeps the auth token's secret after deletion (0 deletes at once)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30)
    error_message = "secret_recovery_window_in_days must be 0 or 7 to 30."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
