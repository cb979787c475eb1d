#!/usr/bin/env python3
# t/0800-aws-templates.t: the AWS design as code (deploy/aws/). cfn-lint on both templates;
# the design's invariants read from the templates themselves; then both stacks created
# through deploy.sh against a local moto_server, and the resources and security group rules
# checked through the AWS CLI; deploy.sh refuses without credentials. Needs no PostgreSQL.
#
# Emulator gaps (moto 5.2.1), each handled where it bites:
# - ELBv2 TCP listeners are refused in CloudFormation (moto makes every CloudFormation load
#   balancer an Application LB): the stacks are created with ListenerProtocol=HTTP, and the
#   template check asserts an NLB with a TCP listener by default.
# - No CloudFormation model for AWS::SecretsManager::Secret: the secrets are not created, so
#   their wiring (DATABASE_URL injected from the one secret, IAM scoped to it) is checked in
#   the template; their existence is checked only if moto lists them.
# - Ignored properties: inline SecurityGroupEgress, DBInstance VPCSecurityGroups, the task
#   definition's NetworkMode/RequiresCompatibilities, the service's launch type, network and
#   load balancer settings: checked in the template.
# - No outputs for stacks created through change sets (what `cloudformation deploy` uses):
#   outputs are checked on a second stack made with create-stack.
# - Reserved /aws/ SSM parameters cannot be created: the EC2 stack gets its AMI through a
#   parameter of our own.
# no-sanitizer: nothing here runs pgmcp.
import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "t", "lib"))
from tap import ok, is_, like, skip, diag, bail, done  # noqa: E402

AWS_DIR = os.path.join(ROOT, "deploy", "aws")
DEPLOY = os.path.join(AWS_DIR, "deploy.sh")
TEMPLATES = {"ecs": os.path.join(AWS_DIR, "pgmcp-ecs.yaml"),
             "ec2": os.path.join(AWS_DIR, "pgmcp-ec2.yaml")}
ALLOWED_CIDR = "203.0.113.0/24"
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pgmcp:1.0.0"
PACKAGE_URL = "https://packages.example.com/pgmcp/pgmcp_0.1.0_amd64.deb"
# Checks whose ignore is justified in the template Metadata; anything else must not be ignored.
JUSTIFIED_IGNORES = {"W3691"}

for tool in ("cfn-lint", "moto_server", "aws"):
    if not shutil.which(tool):
        bail(f"{tool} is not installed (pip install cfn-lint 'moto[server]' awscli)")

work = tempfile.mkdtemp(prefix="pgmcp-aws-")
empty = os.path.join(work, "empty")
open(empty, "w").close()

# The AWS CLI sees dummy credentials and nothing of the caller's own configuration.
base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
base_env.update(AWS_CONFIG_FILE=empty, AWS_SHARED_CREDENTIALS_FILE=empty,
                AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
aws_env = dict(base_env, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1")


def run(cmd, env=None, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env or aws_env,
                       stdin=subprocess.DEVNULL, timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------------------------------------ cfn-lint
for name, path in TEMPLATES.items():
    rc, out, err = run(["cfn-lint", "--format", "parseable", path])
    ok(rc == 0 and out.strip() == "", f"cfn-lint {name}: no errors, no warnings",
       (out + err)[-3000:])

# ------------------------------------------------------------------------------ templates
# `aws cloudformation package --use-json` parses CloudFormation YAML (short-form tags
# included) into plain JSON; with no local artifacts it touches no network.
tpl = {}
for name, path in TEMPLATES.items():
    dest = os.path.join(work, name + ".json")
    rc, out, err = run(["aws", "cloudformation", "package", "--template-file", path,
                        "--s3-bucket", "unused", "--use-json", "--output-template-file", dest])
    if rc != 0:
        bail(f"cannot convert {path} to JSON: {err[-1000:]}")
    with open(dest) as f:
        tpl[name] = json.load(f)


def ref(x):
    return {"Ref": x}


def ingress_resources(t, group):
    return [r["Properties"] for r in t["Resources"].values()
            if r["Type"] == "AWS::EC2::SecurityGroupIngress"
            and r["Properties"].get("GroupId") == ref(group)]


def statements(role):
    out = []
    for pol in role["Properties"].get("Policies", []):
        out += pol["PolicyDocument"]["Statement"]
    return out


def as_list(x):
    return x if isinstance(x, list) else [x]


for name, t in tpl.items():
    R = t["Resources"]
    P = t["Parameters"]
    target_sg = "TaskSecurityGroup" if name == "ecs" else "InstanceSecurityGroup"
    problems = []

    # Ignores in Metadata: only the justified ones.
    for lid, r in R.items():
        ignored = set(r.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
                      .get("ignore_checks", []))
        if ignored - JUSTIFIED_IGNORES:
            problems.append(f"{lid} ignores unjustified cfn-lint checks {ignored}")
    ok(not problems, f"{name}: cfn-lint ignores are only the justified {sorted(JUSTIFIED_IGNORES)}",
       problems)

    # NLB, target group, listener.
    lb, tg, lst = R["LoadBalancer"]["Properties"], R["TargetGroup"]["Properties"], \
        R["Listener"]["Properties"]
    problems = []
    if lb.get("Type") != "network":
        problems.append(f"load balancer type {lb.get('Type')}")
    if lb.get("SecurityGroups") != [ref("NlbSecurityGroup")]:
        problems.append(f"NLB security groups {lb.get('SecurityGroups')}")
    want_tg = {"Protocol": "TCP", "Port": 8080, "HealthCheckProtocol": "HTTP",
               "HealthCheckPath": "/readyz",
               "TargetType": "ip" if name == "ecs" else "instance"}
    for k, v in want_tg.items():
        if tg.get(k) != v:
            problems.append(f"target group {k} = {tg.get(k)!r}, want {v!r}")
    attrs = {a["Key"]: a["Value"] for a in tg.get("TargetGroupAttributes", [])}
    if (attrs.get("stickiness.enabled"), attrs.get("stickiness.type")) != ("true", "source_ip"):
        problems.append(f"target group not sticky by source IP (session ids are per target): {attrs}")
    if lst.get("Protocol") != {"Fn::If": ["HasCertificate", "TLS", ref("ListenerProtocol")]}:
        problems.append(f"listener protocol {lst.get('Protocol')}")
    lp = P["ListenerProtocol"]
    if lp.get("Default") != "TCP" or sorted(lp.get("AllowedValues", [])) != ["HTTP", "TCP"] \
            or "moto" not in lp.get("Description", ""):
        problems.append(f"ListenerProtocol parameter {lp}")
    ok(not problems, f"{name}: NLB with a TCP listener by default, target group TCP 8080 "
       f"({want_tg['TargetType']}, sticky), HTTP health check on /readyz", problems)

    # Database.
    db = R["Db"]["Properties"]
    problems = []
    for k, v in {"Engine": "postgres", "EngineVersion": "15", "StorageEncrypted": True,
                 "PubliclyAccessible": False, "VPCSecurityGroups": [ref("DbSecurityGroup")],
                 "DBSubnetGroupName": ref("DbSubnetGroup")}.items():
        if db.get(k) != v:
            problems.append(f"Db {k} = {db.get(k)!r}, want {v!r}")
    if "{{resolve:secretsmanager:${DbMasterSecret}" not in json.dumps(db.get("MasterUserPassword")):
        problems.append(f"master password not a Secrets Manager dynamic reference: "
                        f"{db.get('MasterUserPassword')}")
    if R["DbSubnetGroup"]["Properties"].get("SubnetIds") != ref("PrivateSubnetIds"):
        problems.append("DB subnet group is not the private subnets")
    ok(not problems, f"{name}: RDS PostgreSQL 15, encrypted, private, generated password", problems)

    # Security groups: who may reach whom.
    problems = []
    for sg in (target_sg, "DbSecurityGroup"):
        if R[sg]["Properties"].get("SecurityGroupIngress"):
            problems.append(f"{sg} has inline ingress")
    want = {target_sg: [("NlbSecurityGroup", 8080)], "DbSecurityGroup": [(target_sg, 5432)]}
    for sg, rules in want.items():
        got = [(r.get("SourceSecurityGroupId", {}).get("Ref"), r.get("FromPort"), r.get("ToPort"),
                r.get("IpProtocol"), r.get("CidrIp")) for r in ingress_resources(t, sg)]
        exp = [(src, port, port, "tcp", None) for src, port in rules]
        if got != exp:
            problems.append(f"{sg} ingress {got}, want {exp}")
    nlb = R["NlbSecurityGroup"]["Properties"]
    if [(r.get("CidrIp"), r.get("IpProtocol")) for r in nlb.get("SecurityGroupIngress", [])] \
            != [(ref("AllowedCidr"), "tcp")]:
        problems.append(f"NLB ingress {nlb.get('SecurityGroupIngress')}")
    egress = [(r.get("FromPort"), r.get("DestinationSecurityGroupId", {}).get("Ref"))
              for r in nlb.get("SecurityGroupEgress", [])]
    if egress != [(8080, target_sg)]:
        problems.append(f"NLB egress {egress}")
    egress = sorted((r.get("FromPort"), r.get("ToPort"), r.get("CidrIp"),
                     r.get("DestinationSecurityGroupId", {}).get("Ref"))
                    for r in R[target_sg]["Properties"].get("SecurityGroupEgress", []))
    want_egress = [(443, 443, "0.0.0.0/0", None), (5432, 5432, None, "DbSecurityGroup")]
    if name == "ec2":
        want_egress.insert(0, (80, 80, "0.0.0.0/0", None))
    if egress != want_egress:
        problems.append(f"{target_sg} egress {egress}, want {want_egress}")
    ok(not problems, f"{name}: only the NLB reaches {target_sg} (8080), only it reaches the "
       "database (5432); egress limited", problems)

    # The one secret: DATABASE_URL, and who may read it.
    problems = []
    url = json.dumps(R["DatabaseUrlSecret"]["Properties"].get("SecretString"))
    for part in ("postgresql://", "sslmode=require", "${Db.Endpoint.Address}",
                 "{{resolve:secretsmanager:${DbMasterSecret}:SecretString:password}}"):
        if part not in url:
            problems.append(f"DATABASE_URL secret lacks {part}")
    reader = "TaskExecutionRole" if name == "ecs" else "InstanceRole"
    for lid, r in R.items():
        if r["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy"):
            continue
        stmts = statements(r) if r["Type"] == "AWS::IAM::Role" else \
            r["Properties"]["PolicyDocument"]["Statement"]
        for s in stmts:
            acts = as_list(s["Action"])
            if any(a.startswith("secretsmanager:") for a in acts):
                if lid != reader or acts != ["secretsmanager:GetSecretValue"] \
                        or s["Resource"] != ref("DatabaseUrlSecret"):
                    problems.append(f"{lid} secretsmanager statement {s}")
            if s["Resource"] == "*" and acts != ["ecr:GetAuthorizationToken"]:
                problems.append(f"{lid} grants {acts} on *")
    if not any(as_list(s["Action"]) == ["secretsmanager:GetSecretValue"]
               for s in statements(R[reader])):
        problems.append(f"{reader} cannot read the DATABASE_URL secret")
    ok(not problems, f"{name}: DATABASE_URL in one secret, readable only by {reader}", problems)

    problems = []
    if name == "ecs":
        td = R["TaskDefinition"]["Properties"]
        c = td["ContainerDefinitions"][0]
        hc = " ".join(c.get("HealthCheck", {}).get("Command", []))
        checks = {
            "NetworkMode awsvpc": td.get("NetworkMode") == "awsvpc",
            "FARGATE": td.get("RequiresCompatibilities") == ["FARGATE"],
            "secret injected as DATABASE_URL":
                c.get("Secrets") == [{"Name": "DATABASE_URL", "ValueFrom": ref("DatabaseUrlSecret")}],
            "PGMCP_WORKERS from Workers":
                {"Name": "PGMCP_WORKERS", "Value": ref("Workers")} in c.get("Environment", []),
            "port 8080": c.get("PortMappings") == [{"ContainerPort": 8080, "Protocol": "tcp"}],
            "read-only root filesystem": c.get("ReadonlyRootFilesystem") is True,
            "non-root user": c.get("User") == ref("ContainerUser")
                and not P["ContainerUser"]["Default"].split(":")[0] == "0",
            "health check on /readyz": "/readyz" in hc and "8080" in hc,
            "stop timeout": isinstance(c.get("StopTimeout"), int),
            "awslogs to the log group": c.get("LogConfiguration", {}).get("Options", {})
                .get("awslogs-group") == ref("LogGroup"),
            "task role without permissions": not R["TaskRole"]["Properties"].get("Policies")
                and not R["TaskRole"]["Properties"].get("ManagedPolicyArns"),
        }
        svc = R["Service"]["Properties"]
        net = svc.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        checks.update({
            "service on FARGATE": svc.get("LaunchType") == "FARGATE",
            "service in the private subnets, no public IP":
                net.get("Subnets") == ref("PrivateSubnetIds") and net.get("AssignPublicIp") == "DISABLED"
                and net.get("SecurityGroups") == [ref("TaskSecurityGroup")],
            "service behind the target group on 8080": svc.get("LoadBalancers") ==
                [{"ContainerName": "pgmcp", "ContainerPort": 8080, "TargetGroupArn": ref("TargetGroup")}],
        })
        label = "ecs: Fargate task (awsvpc, non-root, read-only root, /readyz) and service"
    else:
        lt = R["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        asg = R["AutoScalingGroup"]["Properties"]
        role = R["InstanceRole"]["Properties"]
        checks = {
            "AMI from an SSM parameter":
                P["ImageId"]["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
                and lt.get("ImageId") == ref("ImageId"),
            "IMDSv2 only": lt.get("MetadataOptions", {}).get("HttpTokens") == "required",
            "encrypted root volume": all(b["Ebs"].get("Encrypted") is True
                                         for b in lt.get("BlockDeviceMappings", [])),
            "instance SG": lt.get("SecurityGroupIds") == [ref("InstanceSecurityGroup")],
            "SSM core only as managed policy": role.get("ManagedPolicyArns") ==
                [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}],
            "ASG in the private subnets": asg.get("VPCZoneIdentifier") == ref("PrivateSubnetIds"),
            "ASG behind the target group, ELB health":
                asg.get("TargetGroupARNs") == [ref("TargetGroup")] and asg.get("HealthCheckType") == "ELB",
        }
        label = "ec2: launch template (SSM AMI, IMDSv2, encrypted) and Auto Scaling group"
    problems = [k for k, v in checks.items() if not v]
    ok(not problems, label, problems)

# ------------------------------------------------------------------------------ moto
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


moto = None
moto_log = os.path.join(work, "moto.log")


def die_with_parent():
    # Even a SIGKILLed test (run-tests' timeout) takes moto_server with it.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_moto():
    global moto
    if moto is None:
        return
    try:
        os.killpg(moto.pid, signal.SIGTERM)
        moto.wait(timeout=5)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(moto.pid, signal.SIGKILL)
        moto.wait()
    moto = None


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def aws(*args, endpoint=True):
    cmd = ["aws"] + (["--endpoint-url", endpoint_url] if endpoint else []) + \
        ["--output", "json"] + list(args)
    rc, out, err = run(cmd)
    if rc != 0:
        raise RuntimeError(f"aws {' '.join(args[:2])} failed: {err[-1500:]}")
    return json.loads(out) if out.strip() else {}


def stack_resources(stack):
    res = aws("cloudformation", "describe-stack-resources", "--stack-name", stack)["StackResources"]
    return {r.get("LogicalResourceId"): r for r in res if r.get("LogicalResourceId")}


def wait_complete(stack, limit=60):
    deadline = time.time() + limit
    status = None
    while time.time() < deadline:
        status = aws("cloudformation", "describe-stacks", "--stack-name", stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        time.sleep(1)
    return status


def ingress(group_id):
    sg = aws("ec2", "describe-security-groups", "--group-ids", group_id)["SecurityGroups"][0]
    return [(p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"),
             sorted(g["GroupId"] for g in p.get("UserIdGroupPairs", [])),
             sorted(r["CidrIp"] for r in p.get("IpRanges", [])))
            for p in sg.get("IpPermissions", [])]


try:
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    with open(moto_log, "w") as log:
        moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=aws_env,
                                preexec_fn=die_with_parent)
    deadline = time.time() + 30
    up = False
    while time.time() < deadline and moto.poll() is None:
        try:
            urllib.request.urlopen(endpoint_url + "/moto-api/", timeout=1).read()
            up = True
            break
        except OSError:
            time.sleep(0.2)
    if not up:
        bail("moto_server did not answer within 30s: " + open(moto_log).read()[-1000:])

    # A VPC with two public and two private subnets in two zones, and an AMI parameter.
    vpc = aws("ec2", "create-vpc", "--cidr-block", "10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for i, (kind, az) in enumerate([("pub", "a"), ("pub", "b"), ("priv", "a"), ("priv", "b")]):
        s = aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", f"10.42.{i}.0/24",
                "--availability-zone", "us-east-1" + az)["Subnet"]["SubnetId"]
        subnets.setdefault(kind, []).append(s)
    ami = aws("ec2", "describe-images", "--owners", "amazon")["Images"][0]["ImageId"]
    aws("ssm", "put-parameter", "--name", "/pgmcp-test/debian-12-ami", "--type", "String",
        "--data-type", "aws:ec2:image", "--value", ami)
    ok(True, f"moto_server on port {port}: VPC {vpc}, subnets {subnets['pub'] + subnets['priv']}")

    common = {"VpcId": vpc, "PublicSubnetIds": ",".join(subnets["pub"]),
              "PrivateSubnetIds": ",".join(subnets["priv"]), "AllowedCidr": ALLOWED_CIDR,
              "ListenerProtocol": "HTTP"}  # moto refuses TCP listeners; real AWS keeps TCP
    params = {"ecs": dict(common, ImageUri=IMAGE_URI, DesiredCount="2", Workers="4"),
              "ec2": dict(common, ImageId="/pgmcp-test/debian-12-ami", PackageUrl=PACKAGE_URL,
                          DesiredCapacity="2", MinSize="2", MaxSize="3", Workers="4")}
    expected = {
        "ecs": {"Db": "AWS::RDS::DBInstance", "DbSubnetGroup": "AWS::RDS::DBSubnetGroup",
                "Cluster": "AWS::ECS::Cluster", "Service": "AWS::ECS::Service",
                "TaskDefinition": "AWS::ECS::TaskDefinition", "TaskExecutionRole": "AWS::IAM::Role",
                "TaskRole": "AWS::IAM::Role", "LogGroup": "AWS::Logs::LogGroup",
                "LoadBalancer": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "TargetGroup": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Listener": "AWS::ElasticLoadBalancingV2::Listener",
                "NlbSecurityGroup": "AWS::EC2::SecurityGroup",
                "TaskSecurityGroup": "AWS::EC2::SecurityGroup",
                "DbSecurityGroup": "AWS::EC2::SecurityGroup",
                "TaskIngressFromNlb": "AWS::EC2::SecurityGroupIngress",
                "DbIngressFromTasks": "AWS::EC2::SecurityGroupIngress"},
        "ec2": {"Db": "AWS::RDS::DBInstance", "DbSubnetGroup": "AWS::RDS::DBSubnetGroup",
                "LaunchTemplate": "AWS::EC2::LaunchTemplate",
                "AutoScalingGroup": "AWS::AutoScaling::AutoScalingGroup",
                "InstanceRole": "AWS::IAM::Role", "InstanceProfile": "AWS::IAM::InstanceProfile",
                "LogGroup": "AWS::Logs::LogGroup",
                "LoadBalancer": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "TargetGroup": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Listener": "AWS::ElasticLoadBalancingV2::Listener",
                "NlbSecurityGroup": "AWS::EC2::SecurityGroup",
                "InstanceSecurityGroup": "AWS::EC2::SecurityGroup",
                "DbSecurityGroup": "AWS::EC2::SecurityGroup",
                "InstanceIngressFromNlb": "AWS::EC2::SecurityGroupIngress",
                "DbIngressFromInstances": "AWS::EC2::SecurityGroupIngress"},
    }

    for name in ("ecs", "ec2"):
        stack = f"pgmcp-{name}-test"
        target_sg = "TaskSecurityGroup" if name == "ecs" else "InstanceSecurityGroup"
        args = [DEPLOY, name, stack, "--endpoint-url", endpoint_url] + \
            [f"{k}={v}" for k, v in params[name].items()]
        rc, out, err = run(args, timeout=180)
        ok(rc == 0 and f"stack '{stack}' is CREATE_COMPLETE" in out,
           f"{name}: deploy.sh --endpoint-url creates the stack", out[-1500:] + err[-1500:])
        is_(wait_complete(stack), "CREATE_COMPLETE", f"{name}: stack reaches CREATE_COMPLETE")

        res = stack_resources(stack)
        missing = {lid: typ for lid, typ in expected[name].items()
                   if res.get(lid, {}).get("ResourceType") != typ
                   or res[lid].get("ResourceStatus") != "CREATE_COMPLETE"}
        ok(not missing, f"{name}: {len(expected[name])} expected resources created", missing)
        for secret in ("DatabaseUrlSecret", "DbMasterSecret"):
            if secret in res:
                is_(res[secret]["ResourceType"], "AWS::SecretsManager::Secret",
                    f"{name}: {secret} created")
            else:
                skip(f"{name}: {secret} created",
                     "moto 5.2.1 has no CloudFormation model for AWS::SecretsManager::Secret")
        pid = {lid: r.get("PhysicalResourceId") for lid, r in res.items()}

        # Security group rules as the emulator recorded them.
        is_(ingress(pid[target_sg]), [("tcp", 8080, 8080, [pid["NlbSecurityGroup"]], [])],
            f"{name}: {target_sg} ingress only from the NLB SG on 8080")
        is_(ingress(pid["DbSecurityGroup"]), [("tcp", 5432, 5432, [pid[target_sg]], [])],
            f"{name}: DB SG ingress only from {target_sg} on 5432")
        is_(ingress(pid["NlbSecurityGroup"]), [("tcp", 80, 80, [], [ALLOWED_CIDR])],
            f"{name}: NLB SG ingress only from AllowedCidr on the listener port")

        db = aws("rds", "describe-db-instances", "--db-instance-identifier", pid["Db"])["DBInstances"][0]
        got = (db["Engine"], db["EngineVersion"].split(".")[0], db.get("StorageEncrypted"),
               db.get("PubliclyAccessible"), db["Endpoint"]["Port"],
               sorted(s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]))
        is_(got, ("postgres", "15", True, False, 5432, sorted(subnets["priv"])),
            f"{name}: RDS postgres 15, encrypted, not public, port 5432, private subnets")

        tg = aws("elbv2", "describe-target-groups", "--target-group-arns", pid["TargetGroup"])["TargetGroups"][0]
        is_((tg["Protocol"], tg["Port"], tg["TargetType"], tg["HealthCheckProtocol"], tg["HealthCheckPath"]),
            ("TCP", 8080, "ip" if name == "ecs" else "instance", "HTTP", "/readyz"),
            f"{name}: target group TCP 8080, HTTP health check on /readyz")
        lst = aws("elbv2", "describe-listeners", "--listener-arns", pid["Listener"])["Listeners"][0]
        is_((lst["Port"], lst["Protocol"], [a.get("TargetGroupArn") for a in lst["DefaultActions"]]),
            (80, "HTTP", [pid["TargetGroup"]]),
            f"{name}: listener on 80 forwards to the target group (HTTP: emulator substitute for TCP)")
        lg = aws("logs", "describe-log-groups", "--log-group-name-prefix", pid["LogGroup"])["logGroups"]
        is_([(g["logGroupName"], g.get("retentionInDays")) for g in lg],
            [(f"/pgmcp/{stack}", 30)], f"{name}: log group with 30-day retention")

        if name == "ecs":
            td = aws("ecs", "describe-task-definition", "--task-definition",
                     pid["TaskDefinition"])["taskDefinition"]["containerDefinitions"][0]
            got = (td["image"], [p["containerPort"] for p in td["portMappings"]],
                   td.get("readonlyRootFilesystem"), td.get("user"), td.get("stopTimeout"),
                   [s["name"] for s in td.get("secrets", [])],
                   "/readyz" in " ".join(td.get("healthCheck", {}).get("command", [])))
            is_(got, (IMAGE_URI, [8080], True, "10001:10001", 30, ["DATABASE_URL"], True),
                "ecs: task definition: image, port 8080, read-only root, uid 10001, "
                "stop timeout, DATABASE_URL secret, /readyz health check")
            svc = aws("ecs", "describe-services", "--cluster", pid["Cluster"],
                      "--services", pid["Service"])["services"][0]
            is_((svc["status"], svc["desiredCount"], svc["taskDefinition"]),
                ("ACTIVE", 2, pid["TaskDefinition"]), "ecs: service active, 2 tasks of that definition")
        else:
            asg = aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names",
                      pid["AutoScalingGroup"])["AutoScalingGroups"][0]
            is_((asg["MinSize"], asg["MaxSize"], asg["DesiredCapacity"], asg["TargetGroupARNs"],
                 sorted(asg["VPCZoneIdentifier"].split(",")), len(asg["Instances"]),
                 asg["LaunchTemplate"]["LaunchTemplateId"]),
                (2, 3, 2, [pid["TargetGroup"]], sorted(subnets["priv"]), 2, pid["LaunchTemplate"]),
                "ec2: Auto Scaling group 2..3 in the private subnets, 2 instances, target group attached")
            th = aws("elbv2", "describe-target-health", "--target-group-arn",
                     pid["TargetGroup"])["TargetHealthDescriptions"]
            is_(sorted((t["Target"]["Id"], t["Target"]["Port"]) for t in th),
                sorted((i["InstanceId"], 8080) for i in asg["Instances"]),
                "ec2: the instances are registered on port 8080")
            ltv = aws("ec2", "describe-launch-template-versions", "--launch-template-id",
                      pid["LaunchTemplate"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
            is_((ltv["ImageId"], ltv["MetadataOptions"]["HttpTokens"],
                 ltv["SecurityGroupIds"], "IamInstanceProfile" in ltv),
                (ami, "required", [pid["InstanceSecurityGroup"]], True),
                "ec2: launch template: the AMI from the parameter, IMDSv2, instance SG, profile")
            user_data = base64.b64decode(ltv["UserData"]).decode()
            needles = [f"PACKAGE_URL='{PACKAGE_URL}'", "apt-get install -y -q \"$pkg\"",
                       "secretsmanager get-secret-value", "/etc/pgmcp/pgmcp.env",
                       "chmod 0600", "EnvironmentFile=/etc/pgmcp/pgmcp.env",
                       "ListenStream=0.0.0.0:8080", "systemctl enable pgmcp.socket pgmcp.service",
                       f"LOG_GROUP='/pgmcp/{stack}'", "WORKERS='4'"]
            absent = [n for n in needles if n not in user_data]
            ok(not absent and "set -x" not in user_data,
               "ec2: user data installs the .deb, writes pgmcp.env 0600 from the secret, "
               "starts pgmcp.socket/pgmcp.service", absent)
            # moto leaves ${DatabaseUrlSecret} unresolved (no Secret model): give it an ARN.
            script = user_data.replace(
                "${DatabaseUrlSecret}",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:pgmcp-url-AbCdEf")
            path = os.path.join(work, "user-data.sh")
            with open(path, "w") as f:
                f.write(script)
            rc, out, err = run(["bash", "-n", path])
            ok(rc == 0, "ec2: user data is valid bash", err)
            if shutil.which("shellcheck"):
                rc, out, err = run(["shellcheck", "-s", "bash", path])
                ok(rc == 0, "ec2: user data passes shellcheck", out[-2000:])
            else:
                skip("ec2: user data passes shellcheck", "shellcheck not installed")

        # Outputs: moto computes none for change-set stacks, so create the template once more
        # with create-stack, the path where it does.
        ostack = f"pgmcp-{name}-outputs"
        aws("cloudformation", "create-stack", "--stack-name", ostack, "--template-body",
            "file://" + TEMPLATES[name], "--capabilities", "CAPABILITY_NAMED_IAM", "--parameters",
            *[f"ParameterKey={k},ParameterValue={v.replace(',', chr(92) + ',')}"
              for k, v in params[name].items()])
        wait_complete(ostack)
        outs = {o["OutputKey"]: o["OutputValue"] for o in
                aws("cloudformation", "describe-stacks", "--stack-name", ostack)["Stacks"][0].get("Outputs", [])}
        ores = {lid: r.get("PhysicalResourceId") for lid, r in stack_resources(ostack).items()}
        dns = aws("elbv2", "describe-load-balancers", "--load-balancer-arns",
                  ores["LoadBalancer"])["LoadBalancers"][0]["DNSName"]
        db = aws("rds", "describe-db-instances", "--db-instance-identifier", ores["Db"])["DBInstances"][0]
        is_((outs.get("EndpointUrl"), outs.get("DbEndpoint"), outs.get("LogGroupName")),
            (f"http://{dns}/mcp", f"{db['Endpoint']['Address']}:5432", f"/pgmcp/{ostack}"),
            f"{name}: outputs: endpoint http://<nlb-dns>/mcp, DB endpoint, log group")
        if "DatabaseUrlSecretArn" in outs:
            like(outs["DatabaseUrlSecretArn"], ":secretsmanager:", f"{name}: output: secret ARN")
        else:
            skip(f"{name}: output: secret ARN", "moto 5.2.1 creates no Secrets Manager secret "
                 "from CloudFormation, so the output has no value")

    # deploy.sh without credentials: exit 2, says what is missing, never prompts.
    rc, out, err = run([DEPLOY, "ecs", "pgmcp-nocreds", "VpcId=vpc-1"], env=base_env, timeout=60)
    ok(rc == 2 and "credentials" in err and "sts get-caller-identity" in err,
       "deploy.sh refuses without credentials (exit 2, names them)", f"rc={rc} {out}{err}")
    rc, out, err = run([DEPLOY, "ecs", "pgmcp-noregion", "--endpoint-url", endpoint_url],
                       env=dict(aws_env, AWS_DEFAULT_REGION=""), timeout=60)
    ok(rc == 2 and "region" in err, "deploy.sh refuses without a region (exit 2)", f"rc={rc} {err}")
    rc, out, err = run([DEPLOY, "gke", "x"], timeout=60)
    ok(rc == 2 and "variant" in err, "deploy.sh rejects an unknown variant (exit 2)", f"rc={rc} {err}")
except RuntimeError as e:
    ok(False, "AWS CLI call against moto", str(e))
    diag(open(moto_log).read()[-3000:])
finally:
    stop_moto()
    shutil.rmtree(work, ignore_errors=True)

done()
