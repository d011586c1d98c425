terraform {
  # 1.11: write-only arguments (the signing secret's value never enters the state).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100 is the release the tests plan and apply with; 6.x reviewed in docs/provider-6.md.
      version = ">= 5.100"
    }
  }
}
