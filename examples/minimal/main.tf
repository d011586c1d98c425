# The smallest call: HS256 tokens signed with a key kept in Secrets Manager, and a backend.
provider "aws" {
  region = var.region
}

module "websocket" {
  source = "../../"

  name = "ws-minimal"

  backend = {
    url = var.backend_url
  }

  jwt = {
    secret_arn = var.jwt_secret_arn
  }
}
