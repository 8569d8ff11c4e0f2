# check=skip=FromPlatformFlagConstDisallowed
# naver-sms-automation: the AWS Lambda container image (handler main.lambda_handler).
#
# Stages, most stable first so a source-only change rebuilds in seconds:
#   browser  the Lambda base + its OS libraries + Chrome for Testing (pinned by version and sha256)
#   app      the browser stage + locked dependencies + our source
# Offline machines build the same stages on a stand-in base (Debian, apt-get) with CFT_BASE_URL pointing
# at a local mirror in Chrome for Testing's layout (scripts/offline/standins.sh, scripts/offline/cft-mirror.sh).

# Python 3.11 as the service was specified. Its base is Amazon Linux 2 (glibc 2.26): Chromium's official
# Linux builds cap their glibc symbol versions at 2.26 and current CfT chromedriver needs at most 2.25, so
# current Chrome for Testing runs here; the build-time gate (docker/check-browser.sh) proves it for the
# pinned version. LAMBDA_BASE=public.ecr.aws/lambda/python:3.12 or later (Amazon Linux 2023, dnf) needs
# no other change: docker/browser-os-libs.sh picks the package manager. README says when to move.
ARG LAMBDA_BASE=lambda-base

# The base on a FROM line of its own, where Dependabot reads base images (it does not read ARG defaults),
# and scripts/lib/knobs.sh reads it too. LAMBDA_BASE=<image> (a digest, another Python) builds on that
# instead, and this stage is then not built at all.
# linux/amd64 on both lines: Chrome for Testing publishes linux64 (x86-64) only, so an arm64 host (Apple
# Silicon) must still get the amd64 base, or its `docker build .` pairs an arm64 Python with x86 Chrome.
# A constant platform is the point here, hence the skipped BuildKit check on the first line (a parser
# directive must come first; older builders read it as a comment).
# hadolint ignore=DL3029
FROM --platform=linux/amd64 public.ecr.aws/lambda/python:3.11 AS lambda-base

# hadolint ignore=DL3029
FROM --platform=linux/amd64 ${LAMBDA_BASE} AS browser

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The shared libraries Chrome links against (Amazon Linux's minimal image has none of them),
# unzip and a Korean font, from whichever package manager the base has.
COPY docker/browser-os-libs.sh /tmp/browser-os-libs.sh
RUN /tmp/browser-os-libs.sh && rm /tmp/browser-os-libs.sh

# Chrome for Testing, pinned by version, browser and sha256 in docker/chrome-for-testing.pin, which the
# build reads itself: `docker build .` builds the committed pin. `make pin-chrome` records a version's
# checksums there; no checksum, no build (fetch-chrome.sh says what to run). The ARGs override the pin
# (scripts/build.sh passes the pin's values, or an offline mirror's, through them); CFT_BASE_URL names a
# mirror. CFT_BROWSER is the browser archive: chrome, full Chrome, which the app and the gate run with
# --headless=new (Chrome's own headless mode, the same browser as headed Chrome), or
# chrome-headless-shell, the smaller automation-only build. Either way /opt/chrome/chrome is the browser.
# linux64 only, so the image is linux/amd64. Download, verify and unpack in one layer so no archive stays.
ARG CFT_VERSION=""
ARG CFT_BROWSER=""
ARG CFT_BROWSER_SHA256=""
ARG CFT_DRIVER_SHA256=""
ARG CFT_BASE_URL=https://storage.googleapis.com/chrome-for-testing-public
COPY docker/chrome-for-testing.pin docker/fetch-chrome.sh scripts/lib/chrome.sh /tmp/cft/
RUN /tmp/cft/fetch-chrome.sh /tmp/cft/chrome-for-testing.pin && rm -rf /tmp/cft

FROM browser AS app

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV CHROME_BIN=/opt/chrome/chrome \
    CHROMEDRIVER_BIN=/opt/chrome/chromedriver \
    SE_OFFLINE=true \
    PYTHONDONTWRITEBYTECODE=1

# Dependencies before source: this layer is rebuilt only when the lock changes.
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt --target "${LAMBDA_TASK_ROOT}" \
    && rm /tmp/requirements.txt

# Fail the build, not the first invoke, when the browser cannot run on this base: every library of every
# ELF file under /opt/chrome found, then one headless session through chromedriver (with the locked
# Selenium). Runs before the source is copied, so a source-only change does not repeat it.
COPY docker/check-browser.sh /tmp/check-browser.sh
RUN PYTHONPATH="${LAMBDA_TASK_ROOT}" HOME=/tmp /tmp/check-browser.sh && rm -rf /tmp/check-browser.sh /tmp/tmp*

# The package's metadata (its one version) as an installed package has it, from pyproject.toml: the task
# root is on sys.path, so importlib.metadata finds it there.
COPY pyproject.toml docker/package-metadata.py /tmp/meta/
RUN python3 /tmp/meta/package-metadata.py /tmp/meta/pyproject.toml "${LAMBDA_TASK_ROOT}" && rm -rf /tmp/meta

# The task root is the handler's module and the package (src/__main__.py is the worker's); the YAML
# settings sit beside them.
COPY config/ ${LAMBDA_TASK_ROOT}/config/
COPY src/main.py ${LAMBDA_TASK_ROOT}/
COPY src/naver_sms/ ${LAMBDA_TASK_ROOT}/naver_sms/

CMD ["main.lambda_handler"]
