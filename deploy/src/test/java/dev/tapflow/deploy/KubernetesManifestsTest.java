package dev.tapflow.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/kubernetes/: every document read strictly into the Kubernetes API's own types
 * (fabric8 kubernetes-model, generated from the Kubernetes OpenAPI): a misspelt or misplaced
 * field anywhere is an error, as is a wrong type or apiVersion; then what the API server
 * would only find at run time (selectors, secret and ConfigMap references, mounts) and what
 * tapflow finds (the ConfigMap's tapflow.properties and each container's environment, checked
 * by tapflow config check for the container's command).
 */
class KubernetesManifestsTest {
  static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
      "v1/Namespace", Namespace.class, "v1/Secret", Secret.class, "v1/ConfigMap", ConfigMap.class,
      "batch/v1/Job", Job.class, "apps/v1/Deployment", Deployment.class, "apps/v1/DaemonSet", DaemonSet.class);

  @TempDir
  Path dir;

  private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory())
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  List<HasMetadata> load() throws Exception {
    List<HasMetadata> all = new ArrayList<>();
    try (Stream<Path> files = Files.list(Repo.KUBERNETES)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        for (JsonNode doc : yaml.readerFor(JsonNode.class).<JsonNode>readValues(f.toFile()).readAll()) {
          String type = doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
          Class<? extends HasMetadata> kind = KINDS.get(type);
          assertNotNull(kind, f.getFileName() + ": unexpected " + type);
          HasMetadata r = yaml.treeToValue(doc, kind);
          List<String> unknown = new ArrayList<>();
          unknownFields(r, f.getFileName() + ":" + type, unknown, new IdentityHashMap<>());
          assertEquals(List.of(), unknown, "fields the Kubernetes API does not have");
          assertEquals("tapflow", r.getMetadata().getNamespace() == null ? r.getMetadata().getName()
              : r.getMetadata().getNamespace(), f + ": everything in the tapflow namespace");
          all.add(r);
        }
      }
    }
    return all;
  }

  /** The model keeps fields it does not know in additionalProperties: there must be none, at any depth. */
  static void unknownFields(Object o, String path, List<String> out, IdentityHashMap<Object, Object> seen) throws Exception {
    if (o == null || seen.put(o, o) != null) {
      return;
    }
    if (o instanceof Collection<?> c) {
      int i = 0;
      for (Object e : c) {
        unknownFields(e, path + "[" + i++ + "]", out, seen);
      }
      return;
    }
    if (o instanceof Map<?, ?> m) {
      for (Map.Entry<?, ?> e : m.entrySet()) {
        unknownFields(e.getValue(), path + "." + e.getKey(), out, seen);
      }
      return;
    }
    if (!o.getClass().getName().startsWith("io.fabric8.")) {
      return;
    }
    for (Method m : o.getClass().getMethods()) {
      if (m.getParameterCount() != 0 || !m.getName().startsWith("get") || m.getDeclaringClass() == Object.class) {
        continue;
      }
      Object v = m.invoke(o);
      if (m.getName().equals("getAdditionalProperties")) {
        if (v instanceof Map<?, ?> extra && !extra.isEmpty()) {
          out.add(path + ": " + extra.keySet());
        }
      } else {
        unknownFields(v, path + "." + m.getName().substring(3), out, seen);
      }
    }
  }

  @Test
  void theManifestsAreKubernetesObjectsWithNoUnknownField() throws Exception {
    List<HasMetadata> all = load();
    Set<String> kinds = Set.copyOf(all.stream().map(HasMetadata::getKind).toList());
    assertEquals(Set.of("Namespace", "Secret", "ConfigMap", "Job", "Deployment", "DaemonSet"), kinds);

    // the checker finds what it should: a misplaced field (capabilities under the pod, not the container)
    String agent = Files.readString(Repo.KUBERNETES.resolve("60-agent-daemonset.yaml"))
        .replace("      hostNetwork: true", "      hostNetwork: true\n      capabilities: {add: [NET_RAW]}");
    DaemonSet broken = yaml.readValue(agent, DaemonSet.class);
    List<String> unknown = new ArrayList<>();
    unknownFields(broken, "broken", unknown, new IdentityHashMap<>());
    assertEquals(1, unknown.size(), unknown.toString());
    assertTrue(unknown.get(0).contains("capabilities"), unknown.toString());
  }

  @Test
  void workloadsReferenceWhatExistsAndTheAgentHasOnlyItsTwoCapabilities() throws Exception {
    List<HasMetadata> all = load();
    Secret secret = (Secret) all.stream().filter(r -> r instanceof Secret).findFirst().orElseThrow();
    ConfigMap config = (ConfigMap) all.stream().filter(r -> r instanceof ConfigMap).findFirst().orElseThrow();
    Map<String, PodTemplateSpec> pods = new HashMap<>();
    for (HasMetadata r : all) {
      if (r instanceof Deployment d) {
        assertEquals(d.getSpec().getTemplate().getMetadata().getLabels().entrySet()
            .containsAll(d.getSpec().getSelector().getMatchLabels().entrySet()), true, d.getMetadata().getName());
        pods.put(d.getMetadata().getName(), d.getSpec().getTemplate());
      } else if (r instanceof DaemonSet ds) {
        assertTrue(ds.getSpec().getTemplate().getMetadata().getLabels().entrySet()
            .containsAll(ds.getSpec().getSelector().getMatchLabels().entrySet()), ds.getMetadata().getName());
        pods.put(ds.getMetadata().getName(), ds.getSpec().getTemplate());
      } else if (r instanceof Job j) {
        pods.put(j.getMetadata().getName(), j.getSpec().getTemplate());
      }
    }
    assertEquals(Set.of("tapflow-topics", "tapflow-processor", "tapflow-sink", "tapflow-agent"), pods.keySet());
    for (Map.Entry<String, PodTemplateSpec> e : pods.entrySet()) {
      Map<String, String> volumes = new HashMap<>();
      for (Volume v : e.getValue().getSpec().getVolumes()) {
        if (v.getConfigMap() != null) {
          assertEquals(config.getMetadata().getName(), v.getConfigMap().getName(), e.getKey());
        }
        volumes.put(v.getName(), v.getConfigMap() != null ? "configMap" : "other");
      }
      for (Container c : e.getValue().getSpec().getContainers()) {
        assertFalse(c.getImage().isBlank());
        for (VolumeMount m : c.getVolumeMounts()) {
          assertTrue(volumes.containsKey(m.getName()), e.getKey() + ": no volume " + m.getName());
        }
        for (EnvVar v : c.getEnv()) {
          if (v.getValueFrom() != null && v.getValueFrom().getSecretKeyRef() != null) {
            assertEquals(secret.getMetadata().getName(), v.getValueFrom().getSecretKeyRef().getName());
            assertTrue(secret.getStringData().containsKey(v.getValueFrom().getSecretKeyRef().getKey()),
                e.getKey() + ": the secret has no " + v.getValueFrom().getSecretKeyRef().getKey());
          }
          if (v.getName().equals("TAPFLOW_CONFIG")) {
            Path file = Path.of(v.getValue());
            assertTrue(c.getVolumeMounts().stream().anyMatch(m -> file.getParent().equals(Path.of(m.getMountPath()))
                && volumes.get(m.getName()).equals("configMap")), e.getKey() + ": nothing mounted at " + file);
            assertTrue(config.getData().containsKey(file.getFileName().toString()));
          }
        }
      }
    }
    PodTemplateSpec agent = pods.get("tapflow-agent");
    assertEquals(Boolean.TRUE, agent.getSpec().getHostNetwork(), "the agent captures the node's interfaces");
    var security = agent.getSpec().getContainers().get(0).getSecurityContext();
    assertEquals(List.of("NET_RAW", "NET_ADMIN"), security.getCapabilities().getAdd());
    assertEquals(List.of("ALL"), security.getCapabilities().getDrop());
    assertTrue(security.getPrivileged() == null || !security.getPrivileged());
  }

  /** The ConfigMap's tapflow.properties and each container's environment, as tapflow reads them for its command. */
  @Test
  void tapflowAcceptsEachContainersConfiguration() throws Exception {
    List<HasMetadata> all = load();
    ConfigMap config = (ConfigMap) all.stream().filter(r -> r instanceof ConfigMap).findFirst().orElseThrow();
    Path file = dir.resolve("tapflow.properties");
    Files.writeString(file, config.getData().get("tapflow.properties"));
    Map<HasMetadata, java.util.concurrent.CompletableFuture<Repo.Result>> checks = new java.util.LinkedHashMap<>();
    for (HasMetadata r : all) {
      Container c = container(r);
      if (c == null) {
        continue;
      }
      Map<String, String> env = new HashMap<>();
      for (EnvVar v : c.getEnv()) {
        env.put(v.getName(), v.getValueFrom() == null ? v.getValue()
            : v.getValueFrom().getSecretKeyRef() != null ? "secret-from-k8s" : "node-1");
      }
      env.put("TAPFLOW_CONFIG", file.toString());
      checks.put(r, Repo.runAsync(Repo.ROOT, env, "java", "-jar", Repo.JAR.toString(), "config", "check",
          c.getArgs().get(0)));
    }
    for (Map.Entry<HasMetadata, java.util.concurrent.CompletableFuture<Repo.Result>> e : checks.entrySet()) {
      HasMetadata r = e.getKey();
      Container c = container(r);
      Repo.Result check = e.getValue().get();
      assertEquals(0, check.code(), r.getMetadata().getName() + ": " + check.err() + check.out());
      assertFalse(check.out().contains("secret-from-k8s"), "secrets are masked");
      if (c.getPorts() != null) {
        for (var p : c.getPorts()) {
          if (p.getName().equals("metrics")) {
            assertTrue(check.out().matches("(?s).*metrics-port\\s+= " + p.getContainerPort() + "\\s.*"),
                r.getMetadata().getName() + ": the metrics port is the container's port\n" + check.out());
          }
        }
      }
    }
  }

  /** The workload's container, or null for what runs none. */
  static Container container(HasMetadata r) {
    PodTemplateSpec pod = r instanceof Deployment d ? d.getSpec().getTemplate()
        : r instanceof DaemonSet ds ? ds.getSpec().getTemplate() : r instanceof Job j ? j.getSpec().getTemplate() : null;
    return pod == null ? null : pod.getSpec().getContainers().get(0);
  }
}
