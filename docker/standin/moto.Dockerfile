# Offline stand-in for motoserver/moto (tests and CI only), at the version the dev lock pins.
ARG BASE=python:3.13-slim-trixie
FROM ${BASE}
ARG MOTO_VERSION
RUN python -m pip install --no-cache-dir "moto[server]==${MOTO_VERSION}"
EXPOSE 5000
ENTRYPOINT ["moto_server", "-H", "0.0.0.0", "-p", "5000"]
