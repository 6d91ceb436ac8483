# The customer side of an iamlink assume-role connection: an IAM role that trusts the
# connection's principal (iamlink's jump role) only with the connection's external ID.
# principal and external_id come from mz_internal.mz_aws_connections; see docs/aws-setup.md,
# section 3:
#   TF_VAR_principal="$principal" TF_VAR_external_id="$external_id" terraform apply -var role_name=<role name>

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "principal" {
  type        = string
  description = "The connection's principal: the iamlink jump role ARN (--aws-connection-role-arn)."
}

variable "external_id" {
  type        = string
  description = "The connection's external ID, mz_<prefix>_<connection id>."
}

variable "role_name" {
  type        = string
  description = "Name of the role; the connection's ASSUME ROLE ARN must be this role's ARN."
}

resource "aws_iam_role" "iamlink_connection" {
  name = var.role_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = var.principal }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = var.external_id } }
    }]
  })
}

# Attach the permissions the platform needs with aws_iam_role_policy or
# aws_iam_role_policy_attachment on aws_iam_role.iamlink_connection.

output "role_arn" {
  description = "Use as the connection's ASSUME ROLE ARN."
  value       = aws_iam_role.iamlink_connection.arn
}
