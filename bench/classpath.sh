# Sourced by the bench scripts (from the repository root): builds bench/jmh and its
# dependencies quietly (the build's output only on failure) and sets $cp to its runtime
# classpath.
build_log="$(mktemp)"
if ! mvn -q -B -ntp -pl bench/jmh -am -DskipTests package dependency:build-classpath \
    -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime >"$build_log" 2>&1; then
  cat "$build_log"
  rm -f "$build_log"
  exit 1
fi
rm -f "$build_log"
cp="bench/jmh/target/classes:$(cat bench/jmh/target/classpath.txt)"
