# Two commands matter on a fresh clone: `make run` and `make test`.
# Everything they need is installed here, into .venv, from requirements*.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser run test unit functional lint typecheck bench load package iac-check deploy clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip<26.3'
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's Chromium through Playwright (which cannot download
# its own browser here); installed once, as root or through sudo.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) sh -c 'apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'

browser: $(CHROMIUM)

## run: the local stack (moto server as AWS, the API on 127.0.0.1:8000, the SQS pump)
run: install
	$(BIN)/python -m localdev.stack

## test: lint, types, then every test (unit, functional on moto, local stack)
test: install browser lint typecheck iac-check
	DKT_PACKAGED_TEMPLATE=$(BUILD)/sam.json $(BIN)/python -m pytest

unit: install
	$(BIN)/python -m pytest tests/unit

functional: install
	$(BIN)/python -m pytest tests/functional

# --- deployment ---------------------------------------------------------------------------
STAGE       ?= dev
STACK       ?= dkt-jobs-$(STAGE)
BUILD       := build/$(STAGE)
IAC_VENV    := .venv-iac
IAC_STAMP   := $(IAC_VENV)/.installed
# Names resolved by CloudFormation at deploy time: the queues are named after the stack.
PACKAGE_ENV := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
	UPLOAD_QUEUE_NAME='$${AWS::StackName}-uploads' \
	WORK_QUEUE_NAME='$${AWS::StackName}-work' \
	WORK_DLQ_NAME='$${AWS::StackName}-work-dlq' \
	NOTIFY_QUEUE_NAME='$${AWS::StackName}-notify' \
	COGNITO_USER_POOL_ARN=arn:aws:cognito-idp:us-east-1:000000000000:userpool/set-by-infra

$(IAC_STAMP): requirements-iac.txt
	$(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/python -m pip install --quiet --upgrade 'pip<26.3'
	$(IAC_VENV)/bin/python -m pip install --quiet -r requirements-iac.txt
	touch $(IAC_STAMP)

## package: the deployable template and code bundle of STAGE in build/STAGE/ (no AWS needed)
package: install
	rm -rf $(BUILD) && mkdir -p build
	$(BIN)/python infra/to_json.py infra/template.yaml build/merge.json
	$(PACKAGE_ENV) $(BIN)/chalice package --stage $(STAGE) --merge-template build/merge.json $(BUILD)

## iac-check: cfn-lint and checkov on the packaged template
iac-check: package $(IAC_STAMP)
	$(IAC_VENV)/bin/cfn-lint --non-zero-exit-code error $(BUILD)/sam.json
	$(IAC_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f $(BUILD)/sam.json

## deploy: STAGE to the AWS account of your credentials (see README: ARTIFACT_BUCKET, PARAMETERS)
deploy: iac-check
	@test -n "$(ARTIFACT_BUCKET)" || (echo "set ARTIFACT_BUCKET (an S3 bucket for the code bundle)"; exit 1)
	@# The card-hash key: a random SecureString, created once and never changed after.
	$(IAC_VENV)/bin/aws ssm get-parameter --name /$(STACK)/card-hash-key >/dev/null 2>&1 || \
		$(IAC_VENV)/bin/aws ssm put-parameter --name /$(STACK)/card-hash-key --type SecureString \
		--value "$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))')"
	@# The webhook signing secret, the same way (receivers are given it out of band).
	$(IAC_VENV)/bin/aws ssm get-parameter --name /$(STACK)/webhook-secret >/dev/null 2>&1 || \
		$(IAC_VENV)/bin/aws ssm put-parameter --name /$(STACK)/webhook-secret --type SecureString \
		--value "$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))')"
	$(IAC_VENV)/bin/aws cloudformation package --template-file $(BUILD)/sam.json \
		--s3-bucket $(ARTIFACT_BUCKET) --output-template-file $(BUILD)/packaged.json --use-json
	$(IAC_VENV)/bin/aws cloudformation deploy --template-file $(BUILD)/packaged.json \
		--stack-name $(STACK) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		$(if $(PARAMETERS),--parameter-overrides $(PARAMETERS),)
	$(IAC_VENV)/bin/aws cloudformation describe-stacks --stack-name $(STACK) \
		--query 'Stacks[0].Outputs' --output table

## bench: every benchmark figure (AWS model, floors in the same run) -> build/bench/results.json
bench: install
	$(BIN)/python -m bench.run

# locust (gevent, flask) in its own virtualenv: its pins would fight moto[server]'s.
LOAD_VENV  := .venv-load
LOAD_STAMP := $(LOAD_VENV)/.installed

$(LOAD_STAMP): requirements-load.txt
	$(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/python -m pip install --quiet --upgrade 'pip<26.3'
	$(LOAD_VENV)/bin/python -m pip install --quiet -r requirements-load.txt
	touch $(LOAD_STAMP)

## load: locust on the local stack (20 imports x 18,000 lines, 200 pollers) -> build/load/results.json
load: install $(LOAD_STAMP)
	$(LOAD_VENV)/bin/python load/run.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(IAC_VENV) $(LOAD_VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
