variable "name" {
  description = "Prefix of the alarm, dashboard, topic and key names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "api_id" {
  description = "ID of the WebSocket API (dimension ApiId of AWS/ApiGateway)."
  type        = string
  nullable    = false
}

variable "stage_name" {
  description = "Name of the stage (dimension Stage of AWS/ApiGateway)."
  type        = string
  nullable    = false
}

variable "functions" {
  description = <<-EOT
    The functions to watch, by role (`authorizer`, `connection_handler`): function name
    (dimension FunctionName of AWS/Lambda) and timeout in seconds (the duration alarm fires at a
    fraction of it).
  EOT
  type = map(object({
    function_name   = string
    timeout_seconds = number
  }))
  nullable = false

  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout_seconds >= 1])
    error_message = "functions[*].timeout_seconds must be 1 or more."
  }

  validation {
    condition     = alltrue([for key in keys(var.functions) : can(regex("^[a-z][a-z0-9_]*$", key))])
    error_message = "functions must be keyed by lowercase names such as authorizer and connection_handler."
  }
}

variable "table_name" {
  description = "Name of the DynamoDB connections table (dimension TableName of AWS/DynamoDB)."
  type        = string
  nullable    = false
}

variable "table_operations" {
  description = "DynamoDB operations on the table whose throttles and latency are watched (dimension Operation, with TableName)."
  type        = list(string)
  default     = ["PutItem", "GetItem", "DeleteItem", "UpdateItem", "Query"]
  nullable    = false
}

variable "metrics_namespace" {
  description = "Namespace of the handler's own Embedded Metric Format metrics (its METRICS_NAMESPACE)."
  type        = string
  default     = "WebSocketBridge"
  nullable    = false
}

variable "metrics_service" {
  description = "Value of the `Service` dimension of the handler's EMF metrics (its METRICS_SERVICE, the module's name); null uses `name`."
  type        = string
  default     = null
}

variable "create_dashboard" {
  description = "Whether to create the CloudWatch dashboard `<name>`."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_topic_arns" {
  description = <<-EOT
    SNS topics the alarms notify (on ALARM and on OK). Empty: the module creates topic
    `<name>-alarms`, encrypted with a KMS key CloudWatch may use, unless create_alarm_topic is
    false (alarms without actions).
  EOT
  type        = list(string)
  default     = []
  nullable    = false
}

variable "create_alarm_topic" {
  description = "Whether to create the topic when alarm_topic_arns is empty."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_topic_kms_key_arn" {
  description = <<-EOT
    Customer managed KMS key for the created topic; its key policy must let
    cloudwatch.amazonaws.com use it (kms:GenerateDataKey*, kms:Decrypt). Null: the module
    creates such a key (the AWS managed aws/sns key cannot be used: CloudWatch is not allowed to
    use it).
  EOT
  type        = string
  default     = null
}

variable "alarms" {
  description = <<-EOT
    Each alarm, to tune or disable (`enabled = false`). `threshold` is a count per `period`
    seconds, except for `lambda_duration`, where it is a fraction of each function's timeout
    (0.8: the slowest invocation of a period took 80 % of the timeout). An alarm fires after
    `evaluation_periods` periods in a row over the threshold.
    - `integration_errors`: IntegrationError (the integration answered 4XX/5XX).
    - `execution_errors`: ExecutionError (API Gateway could not call the integration).
    - `client_errors`: ClientError, the 4XX API Gateway returns before the integration,
      throttling's 429 included (WebSocket APIs publish no separate throttle metric).
    - `lambda_errors`, `lambda_throttles`, `lambda_duration`: each function, AWS/Lambda.
    - `dynamodb_throttles`: ThrottledRequests of the table, summed over `table_operations`.
    - `open_connections`: the gauge's OpenConnections (fanout.gauge_enabled), its Maximum;
      off by default (threshold: your capacity plan, 100000 unless set).
  EOT
  type = object({
    integration_errors = optional(object({
      enabled            = optional(bool, true)
      threshold          = optional(number, 5)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 3)
    }), {})
    execution_errors = optional(object({
      enabled            = optional(bool, true)
      threshold          = optional(number, 1)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 3)
    }), {})
    client_errors = optional(object({
      enabled            = optional(bool, true)
      threshold          = optional(number, 100)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 5)
    }), {})
    lambda_errors = optional(object({
      enabled            = optional(bool, true)
      threshold          = optional(number, 5)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 3)
    }), {})
    lambda_throttles = optional(object({
      enabled            = optional(bool, true)
      threshold          = optional(number, 1)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 3)
    }), {})
    lambda_duration = optional(object({
      enabled            = optional(bool, true)
      threshold          = optional(number, 0.8)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 3)
    }), {})
    dynamodb_throttles = optional(object({
      enabled            = optional(bool, true)
      threshold          = optional(number, 1)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 3)
    }), {})
    open_connections = optional(object({
      enabled            = optional(bool, false)
      threshold          = optional(number, 100000)
      period             = optional(number, 60)
      evaluation_periods = optional(number, 3)
    }), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for alarm in values(var.alarms) : alarm.threshold > 0 && alarm.evaluation_periods >= 1 && floor(alarm.evaluation_periods) == alarm.evaluation_periods])
    error_message = "Every alarm's threshold must be above 0 and its evaluation_periods a whole number of 1 or more."
  }

  validation {
    condition     = alltrue([for alarm in values(var.alarms) : contains([10, 30], alarm.period) || (alarm.period >= 60 && alarm.period % 60 == 0)])
    error_message = "Every alarm's period must be 10, 30 or a multiple of 60 seconds."
  }

  validation {
    condition     = var.alarms.lambda_duration.threshold < 1
    error_message = "alarms.lambda_duration.threshold is a fraction of the timeout and must be below 1."
  }
}

variable "tags" {
  description = "Tags for the alarms, the dashboard's neighbours (dashboards take no tags), the topic and the key."
  type        = map(string)
  default     = {}
  nullable    = false
}
