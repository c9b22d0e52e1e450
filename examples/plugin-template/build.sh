#!/usr/bin/env bash
# build.sh — builds this plug-in offline from a tapflow clone, without touching ~/.m2:
# the protocol API is built from the clone and put, with tapflow's parent POM, into a private
# Maven repository (.repo/, whose other entries link to ~/.m2/repository), then `mvn -o -q package`
# runs here with it. Out: target/tapflow-plugin-kv-*.jar (drop it in ~/.tapflow/plugins).
# Online, with the API installed (`mvn -pl protocol-api -am install` in the clone), plain
# `mvn -q package` does the same.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
M2=${MAVEN_REPO:-$HOME/.m2/repository}
REPO=${TAPFLOW_PLUGIN_REPO:-$HERE/.repo}

VERSION=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' "$ROOT/pom.xml" | head -1)
mvn -o -q -f "$ROOT/pom.xml" -pl protocol-api package -DskipTests

# a private local repository: everything of ~/.m2 by link, tapflow's two artifacts as files
mkdir -p "$REPO/dev"
for d in "$M2"/*; do
  [[ $(basename "$d") == dev ]] || ln -sfn "$d" "$REPO/$(basename "$d")"
done
for d in "$M2"/dev/*; do
  [[ ! -e $d || $(basename "$d") == tapflow ]] || ln -sfn "$d" "$REPO/dev/$(basename "$d")"
done
parent="$REPO/dev/tapflow/tapflow-parent/$VERSION"
api="$REPO/dev/tapflow/tapflow-protocol-api/$VERSION"
mkdir -p "$parent" "$api"
cp "$ROOT/pom.xml" "$parent/tapflow-parent-$VERSION.pom"
cp "$ROOT/protocol-api/pom.xml" "$api/tapflow-protocol-api-$VERSION.pom"
cp "$ROOT/protocol-api/target/tapflow-protocol-api-$VERSION.jar" "$api/tapflow-protocol-api-$VERSION.jar"

cd "$HERE"
mvn -o -q package -Dmaven.repo.local="$REPO" -Dtapflow.version="$VERSION" "$@"
ls "$HERE"/target/*.jar
