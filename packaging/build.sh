#!/bin/sh
# Builds the release binary: static (CGO_ENABLED=0, pure-Go net and os/user), trimmed paths,
# stripped, stamped with version, commit and date. The Dockerfile runs exactly this script,
# and .ci/run runs it through packaging/dockerfile-steps.sh, so the two cannot drift.
#   packaging/build.sh OUT [VERSION] [COMMIT] [DATE]
set -eu
out=${1:?usage: packaging/build.sh OUT [VERSION] [COMMIT] [DATE]}
version=${2:-${HELLOMDM_VERSION:-devel}}
commit=${3:-${HELLOMDM_COMMIT:-unknown}}
date=${4:-${HELLOMDM_BUILD_DATE:-unknown}}
pkg=github.com/hellomdm/hellomdm/internal/version
CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags netgo,osusergo \
  -ldflags "-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date" \
  -o "$out" ./cmd/hellomdm
