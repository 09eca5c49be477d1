#!/usr/bin/env bash
# Builds the Spark jar from a fresh machine: set-up (idempotent, with every
# CPU plug-in of llama.cpp's one build, so it runs on any x86-64), the JNI library (CMake
# preset jni), then Maven. Prints the jar's path. Extra arguments go to Maven
# (default: package without tests).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

scripts/bootstrap.sh core jdk
log "building the JNI library (preset jni)"
cmake --preset jni >/dev/null
cmake --build --preset jni >/dev/null
[ $# -gt 0 ] || set -- -DskipTests package
log "building the jar (mvn $*)"
mvn -B -q -f jvm/pom.xml "$@" >&2
ls "$root"/jvm/target/resident-spark_2.13-*.jar | grep -v -- '-sources' | head -n 1
