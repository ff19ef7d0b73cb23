"""The packaged deployment template keeps its invariants (read offline, no AWS).

`make test` packages the template first and passes its path; run alone, this module
packages it itself (about 20 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.models import ALL_MODELS
from chalicelib.core.settings import Settings
from localdev.gateway import NOT_FOUND_BODY

ROOT = Path(__file__).resolve().parents[2]
Template = dict[str, Any]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder `chalice package` wrote: sam.json and deployment.zip."""
    given = os.environ.get("DKT_PACKAGED_TEMPLATE")
    if given:
        return (ROOT / given).parent
    out = tmp_path_factory.mktemp("package")
    merge = out / "merge.json"
    subprocess.run(
        [sys.executable, "infra/to_json.py", "infra/template.yaml", str(merge)],
        cwd=ROOT,
        check=True,
    )
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "UPLOAD_QUEUE_NAME": "${AWS::StackName}-uploads",
        "WORK_QUEUE_NAME": "${AWS::StackName}-work",
        "WORK_DLQ_NAME": "${AWS::StackName}-work-dlq",
        "NOTIFY_QUEUE_NAME": "${AWS::StackName}-notify",
        "COGNITO_USER_POOL_ARN": "arn:aws:cognito-idp:us-east-1:000000000000:userpool/set-by-infra",
    }
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run(
        [
            str(chalice),
            "package",
            "--stage",
            "dev",
            "--merge-template",
            str(merge),
            str(out / "dev"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return out / "dev"


@pytest.fixture(scope="module")
def template(packaged: Path) -> Template:
    return dict(json.loads((packaged / "sam.json").read_text()))


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def functions(template: Template) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::Serverless::Function")


def sub_text(value: Any) -> str:
    """The text of a Fn::Sub (or a plain string)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return str(value)


def queue_consumers(template: Template) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(queue name, queue resource, consuming function) for every SQS event source."""
    queues = {
        sub_text(q["Properties"]["QueueName"]): q
        for q in resources(template, "AWS::SQS::Queue").values()
    }
    for function in functions(template).values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                name = sub_text(event["Properties"]["Queue"]).split("${AWS::AccountId}:")[1]
                yield name, queues[name], function


def test_every_consumed_queue_exists_and_outlives_its_function_six_times(
    template: Template,
) -> None:
    consumed = list(queue_consumers(template))
    assert {name for name, _, _ in consumed} == {
        "${AWS::StackName}-uploads",
        "${AWS::StackName}-work",
        "${AWS::StackName}-work-dlq",
        "${AWS::StackName}-notify",
    }
    for name, queue, function in consumed:
        visibility = queue["Properties"]["VisibilityTimeout"]
        assert visibility >= 6 * function["Properties"]["Timeout"], name


def test_every_work_queue_has_a_dead_letter_queue(template: Template) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    for name, queue in queues.items():
        if name in dead_letter_targets:
            continue
        redrive = queue["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in queues, name
        assert 1 < redrive["maxReceiveCount"] <= 10, name
    assert dead_letter_targets == {
        "UploadDeadLetterQueue",
        "WorkDeadLetterQueue",
        "NotifyDeadLetterQueue",
    }


def test_the_worker_outlives_no_heartbeat_window(template: Template) -> None:
    worker = functions(template)["ProcessWork"]["Properties"]
    stale_after = int(template["Globals"]["Function"]["Environment"]["Variables"]["STALE_AFTER_S"])
    assert stale_after > worker["Timeout"]


def test_upload_bucket_is_private_encrypted_tls_only_and_expires_uploads_and_exports(
    template: Template,
) -> None:
    bucket = template["Resources"]["UploadBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    expiry, exports = bucket["LifecycleConfiguration"]["Rules"]
    assert expiry["Prefix"] == "uploads/" and expiry["Status"] == "Enabled"
    assert expiry["ExpirationInDays"] == {"Ref": "RawUploadRetentionDays"}
    assert template["Parameters"]["RawUploadRetentionDays"]["Default"] >= 7
    # Export files go after a few days, an export's upload left open after one.
    assert exports["Prefix"] == "exports/" and exports["Status"] == "Enabled"
    assert exports["ExpirationInDays"] == {"Ref": "ExportRetentionDays"}
    assert exports["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    [cors] = bucket["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]
    [notification] = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    [deny] = template["Resources"]["UploadBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_each_function_has_its_own_least_privilege_role(template: Template) -> None:
    roles = resources(template, "AWS::IAM::Role")
    used = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions(template).values()]
    assert len(used) == len(set(used)) == 6
    for role_name in used:
        for policy in roles[role_name]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                actions = actions if isinstance(actions, list) else [actions]
                assert statement["Effect"] == "Allow"
                assert all("*" not in action for action in actions), (role_name, actions)
                if statement["Resource"] == "*":
                    # X-Ray accepts no resource-level permission.
                    assert all(action.startswith("xray:") for action in actions), role_name
                assert "ManagedPolicyArns" not in roles[role_name]["Properties"]


def test_alarms_watch_dead_letters_errors_backlog_and_5xx(template: Template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    watched = {
        (
            a["Properties"]["Namespace"],
            a["Properties"]["MetricName"],
            json.dumps(a["Properties"]["Dimensions"][0]["Value"]),
        )
        for a in alarms
    }
    assert (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        json.dumps({"Fn::GetAtt": ["WorkDeadLetterQueue", "QueueName"]}),
    ) in watched
    assert (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        json.dumps({"Fn::GetAtt": ["UploadDeadLetterQueue", "QueueName"]}),
    ) in watched
    assert ("AWS/Lambda", "Errors", json.dumps({"Ref": "ProcessWork"})) in watched
    assert (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        json.dumps({"Fn::GetAtt": ["WorkQueue", "QueueName"]}),
    ) in watched
    assert any(metric == "5XXError" for _, metric, _ in watched)
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def test_tables_match_the_models_keys_and_indexes(template: Template) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    tables = resources(template, "AWS::DynamoDB::Table")
    by_env = {
        "JOBS_TABLE": "Job",
        "LOTES_TABLE": "Lote",
        "LINES_TABLE": "Line",
        "ERRORS_TABLE": "LineErrorItem",
        "RULES_TABLE": "RuleSetVersion",
    }
    models = {model.__name__: model for model in ALL_MODELS}
    for variable, model_name in by_env.items():
        table = tables[env[variable]["Ref"]]["Properties"]
        model = models[model_name]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        assert keys["HASH"] == model._hash_key_attribute().attr_name
        # Declared with the types the model writes them as (S, N).
        model_types = {a.attr_name: a.attr_type for a in model.get_attributes().values()}
        declared_types = {
            d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]
        }
        assert declared_types == {name: model_types[name] for name in declared_types}, model_name
        range_key = model._range_key_attribute()
        assert keys.get("RANGE") == (range_key.attr_name if range_key else None)
        declared = {
            index["IndexName"]: {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
            for index in table.get("GlobalSecondaryIndexes", [])
        }
        wanted = {
            index.Meta.index_name: {
                ("HASH" if attribute.is_hash_key else "RANGE"): attribute.attr_name
                for attribute in index.Meta.attributes.values()
            }
            for index in model._indexes.values()
        }
        assert declared == wanted, model_name
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert table["SSESpecification"]["SSEEnabled"]
    assert tables["JobsTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }


def test_lines_table_warm_throughput_is_a_parameter_the_line_shards_can_carry(
    template: Template,
) -> None:
    lines = resources(template, "AWS::DynamoDB::Table")["LinesTable"]["Properties"]
    assert lines["WarmThroughput"] == {
        "WriteUnitsPerSecond": {"Ref": "LinesWarmWriteUnitsPerSecond"}
    }
    parameter = template["Parameters"]["LinesWarmWriteUnitsPerSecond"]
    # 4,000 is where a new on-demand table starts; DynamoDB refuses less.
    assert parameter["MinValue"] == parameter["Default"] == 4_000
    # Spread evenly over the default shards, the table's warmed rate stays under the
    # 1,000 write units a second one partition key takes.
    shards = Settings.model_fields["line_shards"].default
    assert parameter["MaxValue"] / shards <= 1_000


def test_functions_get_every_setting_the_app_requires(template: Template) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    required = {
        "JOBS_TABLE",
        "LOTES_TABLE",
        "LINES_TABLE",
        "ERRORS_TABLE",
        "RULES_TABLE",
        "IDEMPOTENCY_TABLE",
        "UPLOAD_BUCKET",
        "WORK_QUEUE_URL",
        "NOTIFY_QUEUE_URL",
        "EVENT_BUS_NAME",
    }
    assert required <= set(env)
    assert env["AUTH_MODE"] == "cognito"
    assert "CARD_HASH_KEY" not in env  # read from an SSM SecureString, never configured in clear
    assert "CARD_HASH_KEY_PARAMETER" in env
    assert "WEBHOOK_SECRET" not in env and "WEBHOOK_SECRET_PARAMETER" in env
    assert "ALLOW_LOOPBACK_CALLBACKS" not in env  # deployed, loopback is never called


def test_every_job_finished_event_reaches_the_notifier(template: Template) -> None:
    rule = template["Resources"]["JobFinishedRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"] == {"source": ["dkt-jobs"], "detail-type": ["JobFinished"]}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["NotifyQueue", "Arn"]}
    [statement] = template["Resources"]["NotifyQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["JobFinishedRule", "Arn"]
    }


# The API's own description holds no data; it is public like the page.
PUBLIC_API_PATHS = {"/api/openapi.json"}


def test_every_api_route_needs_a_cognito_token_but_the_page(template: Template) -> None:
    swagger = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = swagger["securityDefinitions"]["CognitoUsers"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "cognito_user_pools"
    assert authorizer["providerARNs"] == [
        {
            "Fn::If": [
                "CreateUserPool",
                {"Fn::GetAtt": ["UserPool", "Arn"]},
                {"Ref": "ExistingUserPoolArn"},
            ]
        }
    ]
    for path, methods in swagger["paths"].items():
        for method, operation in methods.items():
            if method == "options":
                continue
            secured = operation.get("security") == [{"CognitoUsers": []}]
            private = path.startswith("/api/") and path not in PUBLIC_API_PATHS
            assert secured == private, (path, method)


def test_api_gateways_own_answers_are_in_the_api_shape_and_echo_nothing(
    template: Template,
) -> None:
    answers = {
        resource["Properties"]["ResponseType"]: resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::GatewayResponse"
    }
    unknown_path = answers["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown_path["StatusCode"] == "404"
    # `make run` and the functional tests answer it the same way
    assert json.loads(unknown_path["ResponseTemplates"]["application/json"]) == NOT_FOUND_BODY
    assert {"UNAUTHORIZED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"} <= answers.keys()
    for answer in answers.values():
        assert answer["RestApiId"] == {"Ref": "RestAPI"}
        body = json.loads(answer["ResponseTemplates"]["application/json"])
        assert body.keys() == {"code", "message"}
        assert "$" not in json.dumps(body)  # no mapping variable: nothing of the request


def test_the_code_bundle_runs_with_nothing_but_the_standard_library(
    packaged: Path, tmp_path: Path
) -> None:
    """Every runtime dependency is inside deployment.zip: `chalice package` skips, with a
    mere warning, a package that has no wheel for the Lambda runtime (google-re2 after
    1.1 needs a newer glibc than python3.11's Amazon Linux 2), and the functions would
    fail at import once deployed."""
    with zipfile.ZipFile(packaged / "deployment.zip") as bundle:
        bundle.extractall(tmp_path)
    probe = (
        "import sys; sys.path.insert(0, '.')\n"
        "import app\n"
        "from chalicelib.dkt.patterns import compile_user_pattern\n"
        "print(compile_user_pattern('(a+)+$', fold_accents=True).found('a' * 40 + 'b'))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-S", "-I", "-c", probe],
        cwd=tmp_path,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip() == "False"


def test_only_the_notifier_may_read_the_webhook_secret(template: Template) -> None:
    roles = resources(template, "AWS::IAM::Role")
    readers = set()
    for name, function in functions(template).items():
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                targets = statement["Resource"]
                targets = targets if isinstance(targets, list) else [targets]
                if any("webhook-secret" in sub_text(target) for target in targets):
                    readers.add(name)
    assert readers == {"NotifyJobFinished"}


def test_the_worker_writes_exports_and_the_api_only_signs_their_downloads(
    template: Template,
) -> None:
    def s3_actions(function: str, resource: Any) -> set[str]:
        role = functions(template)[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        allowed: set[str] = set()
        for policy in template["Resources"][role]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow" and statement["Resource"] == resource:
                    actions = statement["Action"]
                    allowed |= {actions} if isinstance(actions, str) else set(actions)
        return allowed

    exports = {"Fn::Sub": "${UploadBucket.Arn}/exports/*"}
    bucket = {"Fn::GetAtt": ["UploadBucket", "Arn"]}
    writes = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject"}
    writes.add("s3:ListMultipartUploadParts")  # completing takes S3's own part ETags
    assert s3_actions("ProcessWork", exports) == writes
    # ListBucket: a HEAD of a file not written yet is a 404, not a 403
    assert s3_actions("ProcessWork", bucket) == {"s3:ListBucket", "s3:ListBucketMultipartUploads"}
    assert s3_actions("APIHandler", exports) == {"s3:GetObject"}
