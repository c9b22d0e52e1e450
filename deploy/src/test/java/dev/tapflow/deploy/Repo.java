package dev.tapflow.deploy;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.yaml.snakeyaml.Yaml;

/** The repository's files under test, and the tools the checks run. */
final class Repo {
  private Repo() {}

  static final Path ROOT = Path.of(System.getProperty("tapflow.root", "..")).toAbsolutePath().normalize();
  static final Path DOCKER = ROOT.resolve("docker");
  static final Path COMPOSE = DOCKER.resolve("compose.yaml");
  static final Path DASHBOARD = DOCKER.resolve("grafana/dashboards/tapflow.json");
  static final Path KUBERNETES = ROOT.resolve("deploy/kubernetes");
  static final Path UNIT = ROOT.resolve("deploy/systemd/tapflow-capture.service");
  /** The jar the image runs (cli's shaded jar; built before this module). */
  static final Path JAR = ROOT.resolve("cli/target/tapflow.jar");

  /**
   * Skips a test whose tool is missing, except under scripts/test.sh (TAPFLOW_REQUIRE_TOOLS),
   * which installs it: there a missing tool is a failure.
   */
  static void requireTool(String tool) {
    boolean present = onPath(tool);
    if (System.getenv("TAPFLOW_REQUIRE_TOOLS") != null) {
      assertTrue(present, tool + " is not installed although scripts/test.sh installs it");
    }
    assumeTrue(present, tool + " is not installed (scripts/test.sh installs it)");
  }

  static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }

  /** The compose file as compose reads it (YAML merge keys resolved), before ${VAR} interpolation. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> compose() throws Exception {
    return (Map<String, Object>) new Yaml().load(Files.readString(COMPOSE));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> service(Map<String, Object> compose, String name) {
    Map<String, Object> services = (Map<String, Object>) compose.get("services");
    assertTrue(services.containsKey(name), "compose.yaml has no service " + name);
    return (Map<String, Object>) services.get(name);
  }

  record Result(int code, String out, String err) {}

  /** {@link #run} on a thread of its own: checks that each start a JVM run side by side. */
  static java.util.concurrent.CompletableFuture<Result> runAsync(Path dir, Map<String, String> env, String... command) {
    return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        return run(dir, env, command);
      } catch (Exception e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    }, runnable -> new Thread(runnable, "tapflow-deploy-check").start());
  }

  static Result run(Path dir, Map<String, String> env, String... command) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("TAPFLOW_") && !k.equals("TAPFLOW_REQUIRE_TOOLS")
        || k.equals("POSTGRES_PASSWORD") || k.equals("GRAFANA_PASSWORD"));
    pb.environment().putAll(env);
    Path out = Files.createTempFile("tapflow-deploy", ".out");
    Path err = Files.createTempFile("tapflow-deploy", ".err");
    try {
      Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError(String.join(" ", command) + " did not finish within 60 s");
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
