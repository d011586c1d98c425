variable "name" {
  description = "Prefix of the queue, table, function, role and schedule names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "package_path" {
  description = "The Lambda zip (packages/ws_bridge.zip): the worker and the gauge run from it."
  type        = string
  nullable    = false
}

variable "runtime" {
  description = "Lambda runtime of the worker and the gauge (python3.12 or newer)."
  type        = string
  default     = "python3.12"
  nullable    = false
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of the functions: PassThrough or Active."
  type        = string
  default     = "PassThrough"
  nullable    = false
}

variable "log_level" {
  description = "LOG_LEVEL of the functions: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"
  nullable    = false
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' EMF metrics (FanoutSent, OpenConnections, ...)."
  type        = string
  default     = "WebSocketBridge"
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups, in days."
  type        = number
  default     = 365
  nullable    = false
}

variable "log_kms_key_arn" {
  description = "Customer managed key of the log groups; null: CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "connections_table_name" {
  description = "The connections table: the gauge counts it, the worker deletes gone connections from it."
  type        = string
  nullable    = false
}

variable "connections_table_arn" {
  description = "ARN of the connections table."
  type        = string
  nullable    = false
}

variable "table_kms_key_arn" {
  description = "Customer managed key of the connections table, also used for the subscriptions table; null: the AWS managed key."
  type        = string
  default     = null
}

variable "point_in_time_recovery_enabled" {
  description = "Continuous backups of the subscriptions table for 35 days."
  type        = bool
  default     = true
  nullable    = false
}

variable "deletion_protection_enabled" {
  description = "Deletion protection of the subscriptions table (turn it off before destroy)."
  type        = bool
  default     = false
  nullable    = false
}

variable "api_execution_arn" {
  description = "Execution ARN of the WebSocket API: the worker may post to its stage's @connections."
  type        = string
  nullable    = false
}

variable "stage_name" {
  description = "The API's stage."
  type        = string
  nullable    = false
}

variable "callback_url" {
  description = "Base URL of the stage's @connections API (the root's callback_url): the worker's CALLBACK_URL."
  type        = string
  nullable    = false
}

variable "queue_kms_key_arn" {
  description = "Customer managed key of the queues; null: SQS-managed encryption (SSE-SQS)."
  type        = string
  default     = null
}

variable "message_retention_seconds" {
  description = "How long a job waits in the queue before SQS drops it (60 to 1209600)."
  type        = number
  default     = 86400
  nullable    = false

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be from 60 to 1209600."
  }
}

variable "max_receive_count" {
  description = "Receives of a job the worker reported before SQS moves it to the dead-letter queue."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "batch_size" {
  description = "Jobs per worker invocation (1 to 10000; above 10 needs maximum_batching_window_seconds > 0)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10000."
  }
}

variable "maximum_batching_window_seconds" {
  description = "How long the poller gathers jobs before invoking the worker (0 to 300 seconds)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.maximum_batching_window_seconds >= 0 && var.maximum_batching_window_seconds <= 300
    error_message = "maximum_batching_window_seconds must be from 0 to 300."
  }
}

variable "maximum_concurrency" {
  description = "Most worker invocations at once (2 to 1000, the event source mapping's scaling_config)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000 && floor(var.maximum_concurrency) == var.maximum_concurrency
    error_message = "maximum_concurrency must be a whole number from 2 to 1000."
  }
}

variable "max_ids_per_message" {
  description = "Connection ids in one job, and the page size of a topic shard (FANOUT_MAX_IDS_PER_MESSAGE, 1 to 5000)."
  type        = number
  default     = 1000
  nullable    = false

  validation {
    condition     = var.max_ids_per_message >= 1 && var.max_ids_per_message <= 5000 && floor(var.max_ids_per_message) == var.max_ids_per_message
    error_message = "max_ids_per_message must be a whole number from 1 to 5000."
  }
}

variable "post_concurrency" {
  description = "Posts to @connections in flight in one invocation (FANOUT_CONCURRENCY, 1 to 128)."
  type        = number
  default     = 32
  nullable    = false

  validation {
    condition     = var.post_concurrency >= 1 && var.post_concurrency <= 128 && floor(var.post_concurrency) == var.post_concurrency
    error_message = "post_concurrency must be a whole number from 1 to 128."
  }
}

variable "max_attempts" {
  description = "Times the ids of failed posts go back to the queue before they are dropped (FANOUT_MAX_ATTEMPTS, 1 to 20)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.max_attempts >= 1 && var.max_attempts <= 20 && floor(var.max_attempts) == var.max_attempts
    error_message = "max_attempts must be a whole number from 1 to 20."
  }
}

variable "worker_memory_size" {
  description = "Memory of the worker in MB (its CPU grows with it; 32 posts in flight need little)."
  type        = number
  default     = 512
  nullable    = false
}

variable "worker_timeout" {
  description = "Timeout of the worker in seconds (10 to 900); the queue's visibility timeout is six times it."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.worker_timeout >= 10 && var.worker_timeout <= 900 && floor(var.worker_timeout) == var.worker_timeout
    error_message = "worker_timeout must be a whole number from 10 to 900."
  }
}

variable "gauge_enabled" {
  description = "Create the OpenConnections gauge: a function a schedule runs every minute."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
