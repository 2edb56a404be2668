# syntax=docker/dockerfile:1
# paydown in a container: a Rust build stage, then a small Debian runtime as a non-root user.
#   docker build -t paydown .
#   docker run -p 8080:8080 -v paydown:/var/lib/paydown paydown        # SQLite in the volume
# compose.yaml runs it with PostgreSQL. README.md, "Deploying", says more.

FROM rust:1.95-bookworm AS build
# The bundled libpq (pq-sys `bundled`) is compiled from source with a C compiler and links
# the system OpenSSL: its headers and pkg-config are needed here, libssl3 at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# What the build reads: the manifest (which names the benches), the code, the migrations and
# the data compiled into the binary (payroll layouts, holidays).
COPY Cargo.toml Cargo.lock ./
COPY benches benches
COPY src src
COPY migrations migrations
COPY reports reports
COPY data data
RUN cargo build --release --locked --bin paydown \
    && install -m 0755 target/release/paydown /usr/local/bin/paydown

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --home-dir /var/lib/paydown --create-home --shell /usr/sbin/nologin paydown \
    && install -d -o paydown -g paydown -m 0750 /var/lib/paydown/reports/payroll
COPY --from=build /usr/local/bin/paydown /usr/local/bin/paydown
COPY examples/paydown.toml /usr/share/doc/paydown/paydown.toml.example
COPY reports/README.md /usr/share/doc/paydown/reports.md
USER paydown:paydown
WORKDIR /var/lib/paydown
ENV PAYDOWN_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/paydown/paydown.db \
    PAYDOWN_REPORTS_DIR=/var/lib/paydown/reports
VOLUME ["/var/lib/paydown"]
# 8080: the API, dashboard and probes; 9464: /metrics when PAYDOWN_METRICS_LISTEN is set.
EXPOSE 8080 9464
# Ready means the database answers and the accrual worker keeps up (GET /readyz). The image
# has no curl: bash's /dev/tcp sends the request.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PAYDOWN_LISTEN##*:} && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# SIGTERM lets in-flight requests finish (up to 30 s): give `docker stop` longer than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/paydown"]
CMD ["serve"]
