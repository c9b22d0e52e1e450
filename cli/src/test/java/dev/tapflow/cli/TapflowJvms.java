package dev.tapflow.cli;

import dev.tapflow.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code tapflow process} and {@code tapflow sink} as separate JVMs for the crash tests: each
 * role by name, its output in {@code <dir>/<name>-<n>.log} (n = its n-th start), killed with
 * SIGKILL and started again. Only processes this object started are ever killed.
 */
final class TapflowJvms implements AutoCloseable {
  private final Path dir;
  private final String bootstrap;
  private final Map<String, Process> running = new LinkedHashMap<>();
  private final Map<String, Integer> starts = new LinkedHashMap<>();
  private final Map<String, List<String>> commands = new LinkedHashMap<>();
  private final Map<String, EmbeddedPostgres> databases = new LinkedHashMap<>();

  TapflowJvms(Path dir, String bootstrap) {
    this.dir = dir;
    this.bootstrap = bootstrap;
  }

  /**
   * A processor instance of application {@code appId} with one standby replica of every task.
   * Dynamic membership with a short session: a killed instance leaves the group after 6 s and
   * the other one takes its tasks over from its standby state (a static member would keep them
   * waiting for its own restart and rebuild them from the changelog); the restarted one joins
   * as a new member.
   */
  void processor(String name, String appId, String... options) throws IOException {
    Path config = Files.writeString(dir.resolve("kafka-" + name + ".properties"),
        "num.standby.replicas=1\nsession.timeout.ms=6000\nheartbeat.interval.ms=1500\n");
    List<String> args = new ArrayList<>(List.of("-Xmx512m", Tapflow.class.getName(), "process", "--bootstrap-servers",
        bootstrap, "--app-id", appId, "--state-dir", dir.resolve("streams-" + name).toString(), "--kafka-config",
        config.toString()));
    args.addAll(List.of(options));
    define(name, args, null);
  }

  /** A sink into {@code pg} (credentials through the environment), static membership. */
  void sink(String name, EmbeddedPostgres pg) throws IOException {
    Path config = Files.writeString(dir.resolve("kafka-" + name + ".properties"), "group.instance.id=" + name + "\n");
    define(name, List.of("-Xmx256m", Tapflow.class.getName(), "sink", "--bootstrap-servers", bootstrap, "--jdbc-url",
        pg.jdbcUrl(), "--kafka-config", config.toString()), pg);
  }

  private void define(String name, List<String> args, EmbeddedPostgres pg) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-XX:TieredStopAtLevel=1"));
    cmd.addAll(args);
    commands.put(name, cmd);
    if (pg != null) {
      databases.put(name, pg);
    }
    start(name);
  }

  /** Starts {@code name} (again), its output in a new log file. */
  void start(String name) throws IOException {
    int n = starts.merge(name, 1, Integer::sum);
    ProcessBuilder pb = new ProcessBuilder(commands.get(name)).redirectErrorStream(true)
        .redirectOutput(log(name, n).toFile());
    EmbeddedPostgres pg = databases.get(name);
    if (pg != null) {
      pb.environment().put("TAPFLOW_JDBC_USER", pg.user());
      pb.environment().put("TAPFLOW_JDBC_PASSWORD", pg.password());
    }
    running.put(name, pb.start());
  }

  /** SIGKILL: no shutdown hook, no close, no commit, no flush. Waits until it is gone. */
  void kill(String name) throws InterruptedException {
    Process p = running.get(name);
    p.destroyForcibly();
    if (!p.waitFor(10, TimeUnit.SECONDS)) {
      throw new AssertionError(name + " still alive 10 s after SIGKILL");
    }
  }

  /** Throws naming the role and showing its log when one of them exited by itself. */
  void requireAlive(String waitingFor) throws IOException {
    for (Map.Entry<String, Process> e : running.entrySet()) {
      if (!e.getValue().isAlive()) {
        throw new AssertionError(e.getKey() + " exited " + e.getValue().exitValue() + " while waiting for "
            + waitingFor + ":\n" + Files.readString(log(e.getKey(), starts.get(e.getKey()))));
      }
    }
  }

  /** The last {@code n} lines of each role's current log, for a failure message. */
  String tails(int n) throws IOException {
    StringBuilder b = new StringBuilder();
    for (String name : running.keySet()) {
      List<String> lines = Files.readAllLines(log(name, starts.get(name)));
      b.append("--- ").append(name).append(" (last ").append(n).append(" lines)\n");
      lines.subList(Math.max(0, lines.size() - n), lines.size()).forEach(l -> b.append(l).append('\n'));
    }
    return b.toString();
  }

  /** Starts of each role so far. */
  Map<String, Integer> starts() {
    return starts;
  }

  /** Every log of {@code name}, in order. */
  List<Path> logs(String name) {
    List<Path> out = new ArrayList<>();
    for (int i = 1; i <= starts.getOrDefault(name, 0); i++) {
      out.add(log(name, i));
    }
    return out;
  }

  private Path log(String name, int n) {
    return dir.resolve(name + "-" + n + ".log");
  }

  @Override
  public void close() throws InterruptedException {
    for (Process p : running.values()) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
