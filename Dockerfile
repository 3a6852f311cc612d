# syntax=docker/dockerfile:1
# The fluxo service (`fluxo serve`, docs/service.md) in a small image: a release build in the
# Rust image, then only the binary on Debian slim, run by an unprivileged user.
#
#   docker build -t fluxo .
#   docker run -p 8080:8080 -v "$PWD/flows:/flows:ro" -v fluxo-data:/data fluxo
#
# State lives in /data (SQLite). Arguments after the image name replace the default ones, e.g.
# `--flows /flows --listen 0.0.0.0:8080 --store postgres://…` for replicas on PostgreSQL. Secrets named by the integrations file and
# FLUXO_API_TOKEN come in as environment variables (`docker run -e …`).

FROM rust:1-slim-bookworm AS build
# cmake for aws-lc-sys (the TLS crypto of the provider drivers).
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin fluxo \
    && strip target/release/fluxo

FROM debian:bookworm-slim
# CA certificates for the HTTPS calls to live-chat providers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home fluxo
COPY --from=build /src/target/release/fluxo /usr/local/bin/fluxo
USER fluxo
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers 200 while the process runs. The image has no curl: bash's /dev/tcp asks.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["fluxo", "serve"]
CMD ["--flows", "/flows", "--listen", "0.0.0.0:8080", "--store", "sqlite:///data/fluxo.db"]
