package dev.tapflow.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docker/: the compose file as a Compose implementation reads it (docker-compose config),
 * the services the fleet needs and how they are set up, the tapflow services' commands and
 * environment as tapflow itself reads them (tapflow config check), the Dockerfile's inputs,
 * the variables docker/env.example must give, and the Grafana provisioning's wiring.
 */
class ComposeFileTest {
  static final List<String> SERVICES = List.of("kafka", "postgres", "topics", "processor", "sink", "agent", "grafana");
  static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Z0-9_]+)(?::?([-?])([^}]*))?}");
  /** Test values for the variables docker/.env must set. */
  static final Map<String, String> ENV = Map.of("POSTGRES_PASSWORD", "pg-secret", "GRAFANA_PASSWORD", "gf-secret");

  @Test
  void aComposeImplementationAcceptsTheFile() throws Exception {
    Repo.requireTool("docker-compose");
    Repo.Result r = Repo.run(Repo.DOCKER, ENV, "docker-compose", "-f", Repo.COMPOSE.toString(), "config", "-q");
    assertEquals(0, r.code(), "docker-compose config: " + r.err());
    assertEquals("", r.err().strip(), "warnings from docker-compose config");
    // without the passwords it refuses to start, naming them
    Repo.Result bare = Repo.run(Repo.DOCKER, Map.of(), "docker-compose", "-f", Repo.COMPOSE.toString(), "config", "-q");
    assertTrue(bare.code() != 0 && bare.err().contains("POSTGRES_PASSWORD"), bare.err());
    if (Repo.onPath("docker") && Repo.run(Repo.DOCKER, ENV, "docker", "compose", "version").code() == 0) {
      Repo.Result v2 = Repo.run(Repo.DOCKER, ENV, "docker", "compose", "-f", Repo.COMPOSE.toString(), "config", "-q");
      assertEquals(0, v2.code(), "docker compose config: " + v2.err());
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void theServicesOfAFleet() throws Exception {
    Map<String, Object> compose = Repo.compose();
    assertEquals(new TreeSet<>(SERVICES), new TreeSet<>(((Map<String, Object>) compose.get("services")).keySet()));

    Map<String, Object> kafka = Repo.service(compose, "kafka");
    assertTrue(kafka.get("image").toString().startsWith("apache/kafka:"), "the official Apache Kafka image");
    Map<String, Object> kafkaEnv = (Map<String, Object>) kafka.get("environment");
    assertEquals("broker,controller", kafkaEnv.get("KAFKA_PROCESS_ROLES"), "KRaft, no ZooKeeper");

    Map<String, Object> agent = Repo.service(compose, "agent");
    assertEquals("host", agent.get("network_mode"), "the agent captures the host's interfaces");
    assertEquals(List.of("NET_RAW", "NET_ADMIN"), agent.get("cap_add"));
    assertEquals(List.of("ALL"), agent.get("cap_drop"), "and no other capability");
    assertFalse(agent.containsKey("privileged"));

    Map<String, Object> processor = Repo.service(compose, "processor");
    assertNull(processor.get("container_name"), "--scale processor=N needs generated names");
    assertNull(processor.get("ports"), "--scale processor=N: no fixed host port");
    for (Object volume : (List<Object>) processor.getOrDefault("volumes", List.of())) {
      assertFalse(volume.toString().contains(":"), "--scale processor=N: a state directory per replica, not " + volume);
    }

    for (String name : List.of("topics", "processor", "sink", "agent")) {
      Map<String, Object> s = Repo.service(compose, name);
      assertEquals("${TAPFLOW_IMAGE:-tapflow:latest}", s.get("image"), name + " runs the tapflow image");
      Map<String, Object> build = (Map<String, Object>) s.get("build");
      assertEquals("docker/Dockerfile", build.get("dockerfile"));
      assertTrue(Files.isRegularFile(Repo.DOCKER.resolve(build.get("context").toString()).resolve("docker/Dockerfile")));
    }
  }

  /** Each tapflow service's command and TAPFLOW_* variables, as tapflow reads them: every variable names an option, every value parses. */
  @Test
  void theTapflowServicesCommandsAndEnvironmentAreValidTapflowSettings() throws Exception {
    Map<String, Object> compose = Repo.compose();
    Map<String, java.util.concurrent.CompletableFuture<Repo.Result>> checks = new java.util.LinkedHashMap<>();
    for (String name : List.of("topics", "processor", "sink", "agent")) {
      Map<String, Object> s = Repo.service(compose, name);
      checks.put(name, Repo.runAsync(Repo.ROOT, environment(s, ENV), "java", "-jar", Repo.JAR.toString(), "config",
          "check", command(s).get(0)));
    }
    for (String name : checks.keySet()) {
      Map<String, Object> s = Repo.service(compose, name);
      List<String> command = command(s);
      Map<String, String> env = environment(s, ENV);
      Repo.Result r = checks.get(name).get();
      assertEquals(0, r.code(), name + ": tapflow config check " + command.get(0) + ": " + r.err() + r.out());
      for (String variable : env.keySet()) {
        if (variable.startsWith("TAPFLOW_") && !Set.of("TAPFLOW_JAVA_OPTS", "TAPFLOW_JDBC_USER", "TAPFLOW_JDBC_PASSWORD")
            .contains(variable) && !env.get(variable).isBlank()) {
          assertTrue(r.out().contains("(env " + variable + ")"), name + ": " + variable + " is no option of tapflow "
              + command.get(0) + ":\n" + r.out());
        }
      }
      assertFalse(r.out().contains("pg-secret"), "the password is masked");
    }
  }

  @Test
  void theDockerfileCopiesEveryModuleItBuilds() throws Exception {
    String dockerfile = Files.readString(Repo.DOCKER.resolve("Dockerfile"));
    String pom = Files.readString(Repo.ROOT.resolve("pom.xml"));
    Matcher m = Pattern.compile("<module>([^<]+)</module>").matcher(pom);
    while (m.find()) {
      // Maven reads every module's POM, even with -pl cli -am
      assertTrue(dockerfile.contains("COPY " + m.group(1) + "/pom.xml " + m.group(1) + "/"),
          "the Dockerfile does not copy " + m.group(1) + "/pom.xml");
    }
    Matcher copy = Pattern.compile("(?m)^COPY (?!--from)(\\S+) ").matcher(dockerfile);
    int copies = 0;
    while (copy.find()) {
      copies++;
      assertTrue(Files.exists(Repo.ROOT.resolve(copy.group(1))), "COPY " + copy.group(1) + ": no such file");
    }
    assertTrue(copies > 8);
    assertTrue(dockerfile.contains("cp cli/target/tapflow.jar"), "the shaded jar's name (cli/pom.xml finalName)");
    assertTrue(Files.readString(Repo.ROOT.resolve("cli/pom.xml")).contains("<finalName>tapflow</finalName>"));
    Path entrypoint = Repo.DOCKER.resolve("tapflow.sh");
    assertTrue(Files.isExecutable(entrypoint));
    assertTrue(dockerfile.contains("COPY docker/tapflow.sh /usr/local/bin/tapflow")
        && dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/tapflow\"]"));
    // the entrypoint runs the jar with the given arguments and TAPFLOW_JAVA_OPTS
    Repo.Result version = Repo.run(Repo.ROOT, Map.of("TAPFLOW_JAR", Repo.JAR.toString(), "TAPFLOW_JAVA_OPTS", "-Xmx64m"),
        "sh", entrypoint.toString(), "--version");
    assertEquals(0, version.code(), version.err());
    assertTrue(version.out().startsWith("tapflow "), version.out());
  }

  @Test
  void envExampleGivesEveryVariableTheFileRequires() throws Exception {
    String compose = Files.readString(Repo.COMPOSE);
    Set<String> example = new LinkedHashSet<>();
    for (String line : Files.readAllLines(Repo.DOCKER.resolve("env.example"))) {
      if (!line.isBlank() && !line.startsWith("#")) {
        example.add(line.substring(0, line.indexOf('=')));
      }
    }
    Matcher m = VARIABLE.matcher(compose);
    while (m.find()) {
      if ("?".equals(m.group(2))) {
        assertTrue(example.contains(m.group(1)), "docker/env.example lacks " + m.group(1));
      }
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void grafanaIsProvisionedWithTheDatabaseAndTheDashboard() throws Exception {
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    Map<String, Object> grafana = Repo.service(Repo.compose(), "grafana");
    Map<String, String> mounts = new HashMap<>();
    for (Object v : (List<Object>) grafana.get("volumes")) {
      String[] parts = v.toString().split(":");
      mounts.put(parts[1], parts[0]);
    }
    assertEquals("./grafana/provisioning", mounts.get("/etc/grafana/provisioning"));
    JsonNode datasources = yaml.readTree(Repo.DOCKER.resolve("grafana/provisioning/datasources/tapflow.yaml").toFile());
    JsonNode ds = datasources.get("datasources").get(0);
    assertEquals("grafana-postgresql-datasource", ds.get("type").asText());
    Map<String, Object> postgres = (Map<String, Object>) Repo.service(Repo.compose(), "postgres").get("environment");
    assertEquals("postgres:5432", ds.get("url").asText(), "the compose service's name and port");
    assertEquals(postgres.get("POSTGRES_DB"), ds.get("jsonData").get("database").asText());
    assertEquals(postgres.get("POSTGRES_USER"), ds.get("user").asText());
    String password = ds.get("secureJsonData").get("password").asText();
    assertTrue(password.startsWith("$"), "the password comes from the environment, not the file");
    assertTrue(((Map<String, Object>) grafana.get("environment")).containsKey(password.substring(1)));

    JsonNode providers = yaml.readTree(Repo.DOCKER.resolve("grafana/provisioning/dashboards/tapflow.yaml").toFile());
    String path = providers.get("providers").get(0).get("options").get("path").asText();
    assertEquals("./grafana/dashboards", mounts.get(path), "the dashboards' folder is mounted where the provider looks");
    JsonNode dashboard = new ObjectMapper().readTree(Repo.DASHBOARD.toFile());
    for (JsonNode panel : dashboard.get("panels")) {
      assertEquals(ds.get("uid").asText(), panel.get("datasource").get("uid").asText(), panel.get("title").asText());
    }
  }

  // ---------------------------------------------------------------- helpers

  @SuppressWarnings("unchecked")
  static List<String> command(Map<String, Object> service) {
    return ((List<Object>) service.get("command")).stream().map(Object::toString).toList();
  }

  /** The service's environment with ${VAR}, ${VAR:-default} and ${VAR:?message} resolved from {@code vars}. */
  @SuppressWarnings("unchecked")
  static Map<String, String> environment(Map<String, Object> service, Map<String, String> vars) {
    Map<String, String> out = new HashMap<>();
    Map<String, Object> env = (Map<String, Object>) service.getOrDefault("environment", Map.of());
    env.forEach((k, v) -> out.put(k, interpolate(String.valueOf(v), vars)));
    return out;
  }

  static String interpolate(String value, Map<String, String> vars) {
    Matcher m = VARIABLE.matcher(value);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String v = vars.get(m.group(1));
      if (v == null || v.isEmpty()) {
        assertFalse("?".equals(m.group(2)), m.group(1) + " is required: " + m.group(3));
        v = "-".equals(m.group(2)) ? m.group(3) : "";
      }
      m.appendReplacement(sb, Matcher.quoteReplacement(v));
    }
    m.appendTail(sb);
    return sb.toString();
  }
}
