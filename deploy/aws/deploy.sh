#!/usr/bin/env bash
# deploy.sh: create or update a pgmcp stack (ECS Fargate or EC2) with CloudFormation, then
# print its outputs. Runs against real AWS with whatever credentials the AWS CLI finds, or
# against an emulator with --endpoint-url. Never prompts; refuses (exit 2) without
# credentials or a region. See deploy/aws/README.md.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: deploy/aws/deploy.sh ecs|ec2 STACK_NAME [Key=Value ...] [options]

  ecs|ec2              pgmcp-ecs.yaml (ECS Fargate) or pgmcp-ec2.yaml (Auto Scaling group)
  STACK_NAME           CloudFormation stack to create or update
  Key=Value            template parameters, e.g. VpcId=vpc-0abc
                       PublicSubnetIds=subnet-1,subnet-2 AllowedCidr=203.0.113.0/24
                       (ec2: ImageId defaults to /aws/service/debian/release/12/latest/amd64)

Options:
  --region REGION        AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then the
                         CLI's configured region)
  --endpoint-url URL     send every call to URL (a local emulator such as moto_server)
  --no-execute-changeset create the change set for review without executing it
  -h, --help             show this help

Exit status: 0 deployed (or nothing to change), 2 usage error or missing credentials or
region, otherwise the AWS CLI's status.
EOF
}

die() { # status message
	echo "deploy.sh: $2" >&2
	exit "$1"
}

here=$(cd "$(dirname "$0")" && pwd)
variant='' stack='' region='' endpoint='' no_execute=''
params=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--region) [ $# -ge 2 ] || die 2 "--region needs a value"; region=$2; shift 2 ;;
	--region=*) region=${1#*=}; shift ;;
	--endpoint-url) [ $# -ge 2 ] || die 2 "--endpoint-url needs a value"; endpoint=$2; shift 2 ;;
	--endpoint-url=*) endpoint=${1#*=}; shift ;;
	--no-execute-changeset) no_execute=1; shift ;;
	-*) usage >&2; die 2 "unknown option $1" ;;
	*=*) params+=("$1"); shift ;;
	*)
		if [ -z "$variant" ]; then variant=$1
		elif [ -z "$stack" ]; then stack=$1
		else usage >&2; die 2 "unexpected argument $1 (parameters are Key=Value)"
		fi
		shift ;;
	esac
done

case "$variant" in
ecs | ec2) ;;
"") usage >&2; die 2 "missing the variant: ecs or ec2" ;;
*) usage >&2; die 2 "unknown variant '$variant': ecs or ec2" ;;
esac
[ -n "$stack" ] || { usage >&2; die 2 "missing STACK_NAME"; }
[[ "$stack" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || die 2 "invalid stack name '$stack'"
template="$here/pgmcp-$variant.yaml"
[ -r "$template" ] || die 2 "template $template not found"
command -v aws >/dev/null 2>&1 || die 2 "the AWS CLI (aws) is not installed or not on PATH"

# Never prompt (MFA codes, pagers): no terminal on stdin, no pager.
export AWS_PAGER=""
aws_() { aws "${common[@]}" "$@" </dev/null; }

common=()
[ -z "$endpoint" ] || common+=(--endpoint-url "$endpoint")
[ -n "$region" ] || region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
[ -n "$region" ] || region=$(aws configure get region </dev/null 2>/dev/null || true)
[ -z "$region" ] || common+=(--region "$region")

# Credentials first: without them nothing else can work. STS answers in any region, so a
# missing region is reported on its own below.
sts_region=()
[ -n "$region" ] || sts_region=(--region us-east-1)
if ! who=$(aws_ "${sts_region[@]}" sts get-caller-identity --query Arn --output text 2>&1); then
	die 2 "no usable AWS credentials: 'aws sts get-caller-identity' failed:
  ${who//$'\n'/$'\n'  }
Configure credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, 'aws configure',
'aws sso login', or an instance role) and run deploy.sh again."
fi
[ -n "$region" ] || die 2 "no AWS region: pass --region or set AWS_REGION (or 'aws configure set region')"

if [ "$variant" = ec2 ]; then
	case " ${params[*]-} " in
	*" ImageId="*) ;;
	*) params+=("ImageId=/aws/service/debian/release/12/latest/amd64") ;;
	esac
fi

echo "deploy.sh: $variant stack '$stack' in $region as $who${endpoint:+ (endpoint $endpoint)}"
deploy=(cloudformation deploy --template-file "$template" --stack-name "$stack"
	--capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset)
[ ${#params[@]} -eq 0 ] || deploy+=(--parameter-overrides "${params[@]}")
[ -z "$no_execute" ] || deploy+=(--no-execute-changeset)
aws_ "${deploy[@]}"
[ -z "$no_execute" ] || exit 0

status=$(aws_ cloudformation describe-stacks --stack-name "$stack" \
	--query 'Stacks[0].StackStatus' --output text)
echo "deploy.sh: stack '$stack' is $status"
outputs=$(aws_ cloudformation describe-stacks --stack-name "$stack" \
	--query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text)
if [ -n "$outputs" ] && [ "$outputs" != None ]; then
	echo "$outputs" | while IFS=$'\t' read -r key value; do
		printf '  %-24s %s\n' "$key" "$value"
	done
else
	echo "deploy.sh: the stack reports no outputs${endpoint:+ (moto computes none for stacks created through change sets)}"
fi
