# syntax=docker/dockerfile:1
# Gatehouse container image: a static binary on distroless, run as a non-root numeric user,
# nothing written outside the /data volume (so `--read-only` works).
#
#   docker build -t gatehouse --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm gatehouse migrate up        # migrations ship in the same image
#   docker run --read-only -p 8080:8080 -v gatehouse-data:/data gatehouse
#
# deploy/dockerfile_test.go checks this file (stages, user, health check, flags) and builds
# the same package with the same flags outside Docker to prove the binary is static.

ARG GO_VERSION=1.26.8

# The compiler runs natively on the build machine and cross-compiles for the target platform.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# The modules the server is built from, and only those: the repository's go.work also lists
# the desktop console and the deploy tests, whose dependencies the server must not download or
# be built against. deploy/dockerfile_test.go keeps this list equal to what the server imports.
COPY shared/go.mod shared/
COPY migrations/go.mod migrations/
COPY assets/go.mod assets/
COPY server/go.mod server/go.sum server/
RUN go work init ./shared ./migrations ./assets ./server
RUN --mount=type=cache,target=/go/pkg/mod \
    cd server && go mod download
COPY shared/ shared/
COPY migrations/ migrations/
COPY assets/ assets/
COPY server/ server/
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_DATE=unknown
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X gatehouse/server/internal/buildinfo.Version=${VERSION} -X gatehouse/server/internal/buildinfo.Commit=${COMMIT} -X gatehouse/server/internal/buildinfo.BuildDate=${BUILD_DATE}" \
      -o /out/gatehouse ./server/cmd/gatehouse
# The data directory must exist, owned by the runtime user, before a volume is mounted on it:
# a fresh named volume copies its ownership from the image.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

# distroless/static: CA certificates, tzdata, /etc/passwd with "nonroot" (65532); no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV GATEHOUSE_ADDR=0.0.0.0:8080 \
    GATEHOUSE_DATA_DIR=/data \
    GATEHOUSE_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
# The binary probes itself: there is no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/gatehouse", "healthcheck", "--timeout", "4s"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
