# The reference backend's own role: it pushes to clients (and reads the table's indexes) with
# exactly the policy the module hands a real backend, so a permission the module forgets fails
# here as it would on AWS (the local emulator evaluates IAM for the credentials it issues).
# The backend assumes it with `--role-arn`, taking the value of the `backend_role_arn` output.
#
# The module's output is `backend_policy_json` (formerly `backend_push_policy_json`): the lookup
# below takes whichever of the two this version of the module has.

data "aws_caller_identity" "current" {}

locals {
  backend_policy_json = lookup(
    module.websocket,
    "backend_policy_json",
    lookup(module.websocket, "backend_push_policy_json", null),
  )
}

resource "aws_iam_role" "backend" {
  name = "${var.name}-backend"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = {
    Environment = "local"
  }
}

resource "aws_iam_role_policy" "backend" {
  name   = "backend"
  role   = aws_iam_role.backend.id
  policy = local.backend_policy_json
}

output "backend_role_arn" {
  description = "Role the reference backend assumes to push (its inline policy is the module's backend policy output)."
  value       = aws_iam_role.backend.arn
}
