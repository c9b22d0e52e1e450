#!/bin/sh
# The image's entrypoint: the tapflow command, with TAPFLOW_JAVA_OPTS for the JVM (heap, GC).
# Options come from the arguments, TAPFLOW_<OPTION> variables and $TAPFLOW_CONFIG (tapflow config check shows them).
exec java ${TAPFLOW_JAVA_OPTS:-} -jar "${TAPFLOW_JAR:-/opt/tapflow/tapflow.jar}" "$@"
