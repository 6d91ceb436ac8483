#!/bin/sh
# LocalStack ready hook: the platform side of docker-compose.yml's demo. The user iamlink runs
# as (account 111111111111) and the jump role it assumes.
set -eu
export AWS_ACCESS_KEY_ID=111111111111 AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
awslocal iam create-user --user-name iamlink
awslocal iam create-role --role-name iamlink-jump --assume-role-policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}'
