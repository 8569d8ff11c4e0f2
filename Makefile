# naver-sms-automation: each target is one line calling one script in scripts/ (but `help`, which prints
# this file's `##` lines); `make help` lists them.
# Knobs: `make build IMAGE=worker`, `make test ARGS=-x` …; every knob and its default is listed once, in
# scripts/lib/knobs.sh (a variable given on make's command line reaches the scripts as it is).

.DEFAULT_GOAL := help
.PHONY: help venv lock lint format test test-unit clean run-local smoke docker-engine standins build run-rie \
	size-check tag push deploy pin-chrome bench validate up down logs ps claims reconcile login-guard preview infra-lint infra-deploy sam-invoke

##@ Setup
help: ## List the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-z-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
venv: ## Create or re-sync .venv from the dev lock
	@scripts/venv.sh
lock: ## Regenerate every requirements*.txt from its .in file (UPGRADE=1 to upgrade)
	@scripts/lock.sh

##@ Quality
lint: ## Formatter, ruff, mypy, import contracts, lock freshness, hadolint, cfn-lint, shellcheck, workflows
	@scripts/lint.sh
format: ## Rewrite Python sources in the project style
	@scripts/format.sh
test: ## Run the whole test suite: unit, integration, e2e (creates .venv when missing or stale)
	@scripts/test.sh
test-unit: ## Run the unit layer only: domain and use cases against fakes, seconds, no network
	@scripts/test.sh tests/unit
clean: ## Remove the venv, caches and build logs
	@scripts/clean.sh
validate: ## Regenerate VALIDATION.md from real runs (builds, sizes, smoke, push digest, tests)
	@scripts/validate.sh
bench: ## Measure init, latency, leaks, throughput, shutdown and image figures into docs/benchmarks.md
	@scripts/bench.sh

##@ Run without Docker
run-local: ## Serve the Lambda handler under the real RIE on 127.0.0.1:9000 until stopped
	@scripts/run-local.sh
smoke: ## Invoke the sample events against SMOKE_URL (or smoke the worker container) and check bodies
	@scripts/smoke.sh
claims: ## List sent-log claims that are not confirmed sends (unknown, stale, live, expired, failed) from STORE
	@scripts/claims.sh
reconcile: ## Look STORE's unknowns and sends up in SENS now: unknown → sent, released or expired; handset results
	@scripts/reconcile.sh
preview: ## What the next scheduled run would send, as a table (BOOKINGS=file.json instead of the API); sends nothing
	@scripts/preview.sh
login-guard: ## Show the Naver login guard (failures, backoff, logins this hour) or ACTION=clear it
	@scripts/login-guard.sh

##@ Images
docker-engine: ## Make a Docker engine with buildx and compose available (installs one offline)
	@scripts/offline/docker-engine.sh
standins: ## Build local stand-ins for base images that cannot be pulled (offline CI)
	@scripts/offline/standins.sh
build: ## Build IMAGE with docker buildx (tags :latest and :<git sha>)
	@scripts/build.sh
run-rie: ## Run the Lambda image under its RIE on port 9000, read-only root, deployed memory
	@scripts/run-rie.sh
size-check: ## Print IMAGE's size and largest layers; fail above its budget
	@scripts/size-check.sh
tag: ## Tag IMAGE for REGISTRY (or ECR from AWS_ACCOUNT_ID and AWS_REGION)
	@scripts/tag.sh
push: ## Push IMAGE's sha and latest tags and print the digest
	@scripts/push.sh
pin-chrome: ## Pin Chrome for Testing's current Stable (or CFT_VERSION): both archives' sha256 in docker/chrome-for-testing.pin
	@scripts/pin-chrome.sh
deploy: ## Push the Lambda, update FUNCTION by digest, smoke the new version, then move ALIAS (live)
	@scripts/deploy.sh

##@ AWS as code (infra/template.yaml)
infra-lint: ## cfn-lint the CloudFormation template
	@scripts/infra-lint.sh
infra-deploy: ## aws cloudformation deploy STACK (IMAGE_URI by digest; PARAMS=Key=Value ...)
	@scripts/infra-deploy.sh
sam-invoke: ## sam local invoke the template's function with the local image (SAM_EVENT, default smoke)
	@scripts/sam-invoke.sh

##@ Local stack (compose.yaml)
up: ## Start NATS, moto, the worker and the Lambda (RIE on RIE_PORT) and wait until healthy (PROFILE)
	@scripts/up.sh
down: ## Stop the stack and remove its containers, network and volume
	@scripts/down.sh
logs: ## Follow the stack's logs
	@scripts/logs.sh
ps: ## Show the stack's services and their health
	@scripts/ps.sh
