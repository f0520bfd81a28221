# hellomdm container image: a static binary on distroless, run as a non-root user, data in
# the /data volume. Build:  docker build --build-arg VERSION=v0.1.0 \
#   --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(date -u +%FT%TZ) -t hellomdm .
# Run:  docker run -p 8443:8443 -v hellomdm-data:/data hellomdm
# (the bootstrap admin token is printed once on the first start: docker logs <container>)
# .ci/run checks the build steps without a Docker engine (packaging/dockerfile-steps.sh).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
ARG DATE=unknown
RUN packaging/build.sh /out/hellomdm "$VERSION" "$COMMIT" "$DATE"
# The volume's mount point, owned by the runtime user (distroless has no shell to mkdir).
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hellomdm /usr/local/bin/hellomdm
COPY --from=build --chown=65532:65532 /out/data /data
# 65532 is distroless' "nonroot" user.
USER 65532:65532
ENV HELLOMDM_DATA=/data \
    HELLOMDM_ADDR=0.0.0.0:8443
VOLUME ["/data"]
EXPOSE 8443
# The binary probes itself: HELLOMDM_ADDR and HELLOMDM_DATA are read as serve reads them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/hellomdm", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/hellomdm"]
CMD ["serve"]
