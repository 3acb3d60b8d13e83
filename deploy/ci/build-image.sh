#!/usr/bin/env bash
# Build the alert-responder image from the Dockerfile with podman, on a machine with no
# Docker daemon (CI), and check docker-compose.yml; tests/deploy/ then run the image.
#
#   bash deploy/ci/build-image.sh    # as root; idempotent. IMAGE=... changes the tag
#                                    # (tests/deploy then need RESPONDER_TEST_IMAGE=...)
#
# 1. Installs podman, runc, debootstrap, docker-compose and podman-compose when missing.
# 2. Configures podman for this machine with one containers.conf drop-in (see below).
# 3. Makes sure the Dockerfile's base image (FROM) exists locally. If it does not, and it
#    is python:3.11-slim, stands in for it: debootstraps a minimal Debian bookworm (whose
#    python3 is 3.11) from the mirror apt uses here, with python3 and python3-venv, and
#    `podman import`s it under that name. Later runs reuse it (REFRESH_BASE=1 rebuilds it).
# 4. `podman build --format docker --pull=never --network=host`, with pip pointed at the
#    package index pip uses here and trusting the CA bundle the host trusts: both for the
#    build only (a bind mount and build arguments), never part of the image.
# 5. Validates docker-compose.yml (`docker-compose config -q`) and builds its `web`
#    service with podman-compose, which must give the very same image.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${IMAGE:-localhost/alert-responder:ci}
COMPOSE_IMAGE=localhost/alert-responder:local # docker-compose.yml's `image:` for web
SUITE=bookworm                                # python:3.11-slim's Debian, and Python 3.11
DROP_IN=/etc/containers/containers.conf.d/50-alert-responder-ci.conf
# The path the host's bundle is mounted at during the build: the file Debian's pip (and
# OpenSSL) read. It exists in both possible bases, so the mount leaves nothing behind.
BUILD_CA=/etc/ssl/certs/ca-certificates.crt

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'build-image.sh: %s\n' "$*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || die "run as root: it installs packages, debootstraps and runs rootful podman"
start=$SECONDS

# --- 1. Tools ----------------------------------------------------------------------------
# podman with runc (asked for by name, or apt would pick crun for podman's crun|runc).
# Not needed as root with --network=host: fuse-overlayfs (the kernel's overlayfs serves
# root), slirp4netns (no private networks), uidmap (no user namespaces).
missing=()
for pkg in podman runc debootstrap docker-compose podman-compose; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  # Waits for another apt (a shared machine) rather than failing on its lock.
  apt-get -o DPkg::Lock::Timeout=300 update -q
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "${missing[@]}"
fi

# --- 2. podman's configuration -----------------------------------------------------------
# podman gives containers nofile and nproc of 1048576 unless told otherwise, and runc
# cannot raise a limit above what podman itself holds: nofile at most the hard limit, nproc
# at most the hard limit and at most pid_max (podman holds its own nproc to pid_max: seen
# here as 32768 under a hard limit of 96553, and runc failing on anything above it).
hard_limit() { # $1: ulimit flag, $2: cap
  local value
  value=$(ulimit -H "$1")
  [[ $value == unlimited || $value -gt $2 ]] && value=$2
  echo "$value"
}
nofile=$(hard_limit -n 1048576)
nproc=$(hard_limit -u "$(cat /proc/sys/kernel/pid_max)")
conf="# Written by alert-responder's deploy/ci/build-image.sh (delete it to undo).
[containers]
# At most this machine's hard limits: podman's default (1048576) is above them here.
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]

[engine]
runtime = \"runc\"
# No systemd (and no journald) on a CI machine.
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
"
if [[ ! -f $DROP_IN || $(<"$DROP_IN")$'\n' != "$conf" ]]; then
  say "writing $DROP_IN (nofile=$nofile, nproc=$nproc, runc, cgroupfs)"
  mkdir -p "$(dirname "$DROP_IN")"
  printf '%s' "$conf" >"$DROP_IN"
fi

# --- 3. The base image -------------------------------------------------------------------
base=$(awk 'toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }' Dockerfile)
[[ -n $base ]] || die "no FROM line in Dockerfile"
# The name podman resolves a short name to (registries.conf's alias for python, debian...).
case $base in
  */*/* | localhost/*) qualified=$base ;;
  */*) qualified=docker.io/$base ;;
  *) qualified=docker.io/library/$base ;;
esac

# The mirror apt uses here for $1 (a suite), from deb822 .sources or one-line .list files.
apt_mirror() {
  local suite=$1 file
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f $file ]] || continue
    # One stanza per paragraph; the first URI of an enabled `deb` stanza listing the suite.
    awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" } {
      types = uris = suites = ""; enabled = "yes"
      for (i = 1; i <= NF; i++) {
        line = $i; if (line ~ /^#/) continue
        key = tolower(line); sub(/:.*/, "", key); sub(/^[^:]*:[ \t]*/, "", line)
        if (key == "types") types = line; else if (key == "uris") uris = line
        else if (key == "suites") suites = line; else if (key == "enabled") enabled = tolower(line)
      }
      if (enabled == "no" || (" " types " ") !~ / deb /) next
      if ((" " suites " ") ~ (" " suite " ")) { split(uris, u, /[ \t]+/); print u[1]; exit }
    }' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $file ]] || continue
    # deb [options] URI SUITE COMPONENTS...
    awk -v suite="$suite" '$1 == "deb" {
      i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) { print $i; exit }
    }' "$file"
  done
}

if [[ ${REFRESH_BASE:-} == 1 ]] && podman image exists "$qualified"; then
  say "REFRESH_BASE=1: removing $qualified"
  podman rmi "$qualified" >/dev/null
fi
if podman image exists "$qualified"; then
  say "base image $qualified exists locally"
else
  case $qualified in
    docker.io/library/python:3.11-slim | docker.io/library/python:3.11-slim-"$SUITE") ;;
    *) die "the Dockerfile's FROM is $base: only python:3.11-slim can be stood in for here \
(Debian $SUITE's python3 is 3.11); make $qualified exist locally first" ;;
  esac
  mirror=${DEBIAN_MIRROR:-$(apt_mirror "$SUITE" | head -1)}
  [[ -n $mirror ]] || mirror=$(apt_mirror "$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)" | head -1)
  [[ -n $mirror ]] || die "no Debian mirror in /etc/apt/sources.list{,.d}: set DEBIAN_MIRROR"
  security=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror "$SUITE-security" | head -1)}
  say "debootstrapping Debian $SUITE from $mirror${security:+ (security: $security)} for $qualified"
  work=$(mktemp -d /var/tmp/alert-responder-base.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  root=$work/rootfs
  # minbase: dpkg, apt and the Priority: required packages (passwd for useradd, tzdata);
  # ca-certificates and netbase as python:3.11-slim has them.
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,netbase \
    "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed; its log: $(tail -20 "$work/debootstrap.log")"
  # The official image's apt sources (the release, its updates and security), on this
  # mirror; security updates are applied now, as the official image is rebuilt for them.
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n $security ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$root/etc/apt/sources.list.d/debian.sources"
  rm -f "$root/etc/apt/sources.list"
  chroot "$root" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q' \
    >"$work/upgrade.log" 2>&1 || die "apt-get upgrade in the new root failed: $(tail -20 "$work/upgrade.log")"
  chroot "$root" apt-get clean
  # Nothing of this machine in the image: its resolver, name, package lists, logs.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/apt/* \
    "$root"/var/log/dpkg.log "$root"/var/log/bootstrap.log "$root/etc/resolv.conf"
  echo localhost >"$root/etc/hostname"
  tar --numeric-owner --xattrs -C "$root" -c . |
    podman import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
      --message "stand-in for $base: Debian $SUITE minbase + python3, python3-venv (deploy/ci/build-image.sh)" \
      - "$qualified" >/dev/null
  rm -rf "$work"
  trap - EXIT
  say "imported $qualified ($((SECONDS - start)) s so far)"
fi

# --- 4. The image ------------------------------------------------------------------------
# What pip uses here: environment first, then its config files (install before global).
pip_setting() { # $1: option name, e.g. index-url
  local env_name=PIP_${1^^}
  env_name=${env_name//-/_}
  if [[ -n ${!env_name:-} ]]; then
    printf '%s\n' "${!env_name}"
    return
  fi
  { "${PYTHON:-python3}" -m pip config list 2>/dev/null || true; } | "${PYTHON:-python3}" -c '
import ast, sys
found = {}
for line in sys.stdin:
    key, sep, value = line.rstrip("\n").partition("=")
    if sep and key in ("install." + sys.argv[1], "global." + sys.argv[1]):
        found[key.partition(".")[0]] = ast.literal_eval(value)
print(found.get("install", found.get("global", "")))
' "$1"
}
local_or_secret() { # the URLs the build can use: not this machine's files; never credentials
  local url kept=()
  for url in "$@"; do
    case $url in
      file:* | /*) say "not passing pip's $url to the build: the build cannot read this machine's files" ;;
      *://*@*) die "pip's index $url carries credentials; build arguments are recorded in the image history" ;;
      *) kept+=("$url") ;;
    esac
  done
  echo "${kept[*]}"
}
# shellcheck disable=SC2046  # split the lists on blanks, as pip does
index=$(local_or_secret $(pip_setting index-url))
[[ -n $(pip_setting index-url) && -z $index ]] && die "pip's index here is local; the build has no other"
# shellcheck disable=SC2046
extra=$(local_or_secret $(pip_setting extra-index-url))
trusted=$(pip_setting trusted-host)
ca=$(pip_setting cert)
for candidate in "$ca" "${SSL_CERT_FILE:-}" "${REQUESTS_CA_BUNDLE:-}" /etc/ssl/certs/ca-certificates.crt; do
  [[ -n $candidate && -f $candidate ]] && ca=$candidate && break
done
[[ -f $ca ]] || die "no CA bundle found for pip (looked at pip's cert, SSL_CERT_FILE, REQUESTS_CA_BUNDLE)"

build_args=(
  --build-arg "PIP_INDEX_URL=${index:-https://pypi.org/simple}"
  --build-arg "PIP_EXTRA_INDEX_URL=$extra"
  --build-arg "PIP_TRUSTED_HOST=$trusted"
  --build-arg "PIP_CERT=$BUILD_CA"
)
build_only=(--format docker --pull=never --network=host --volume "$ca:$BUILD_CA:ro")
say "building $IMAGE (pip index ${index:-https://pypi.org/simple}${extra:+ + $extra}, CA bundle $ca)"
podman build "${build_only[@]}" "${build_args[@]}" --tag "$IMAGE" .

# --- 5. docker-compose.yml ---------------------------------------------------------------
# The tokens are required (`${VAR:?}`); any value does to validate and build.
compose_env=(env RESPONDER_WEBHOOK_TOKEN=ci-validate RESPONDER_API_TOKEN=ci-validate)
say "validating docker-compose.yml"
"${compose_env[@]}" docker-compose -f docker-compose.yml config -q
say "building docker-compose.yml's web service with podman-compose"
"${compose_env[@]}" podman-compose -f docker-compose.yml --podman-build-args "${build_only[*]}" \
  build "${build_args[@]}" web
image_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
[[ $(podman image inspect --format '{{.Id}}' "$COMPOSE_IMAGE") == "$image_id" ]] ||
  die "podman-compose built $COMPOSE_IMAGE as a different image than $IMAGE"

say "built $IMAGE (${image_id:0:12}) and $COMPOSE_IMAGE, the same image, in $((SECONDS - start)) s"
