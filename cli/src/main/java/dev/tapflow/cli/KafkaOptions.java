package dev.tapflow.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Where Kafka is, and client properties passed through unchanged (TLS, SASL, tuning). */
final class KafkaOptions {

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...",
      description = "An existing Kafka cluster.")
  String bootstrapServers;

  @Option(names = "--kafka-config", paramLabel = "FILE",
      description = "A properties file of Kafka client settings (security.protocol, sasl.*, ssl.*, ...), "
          + "passed to every Kafka client unchanged; keeps secrets off the command line.")
  Path kafkaConfig;

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  /** The configuration's kafka.* / TAPFLOW_KAFKA_* properties, then --kafka-config's (which win). */
  Map<String, Object> clientProperties() {
    Map<String, Object> map = new LinkedHashMap<>(
        mixee == null ? Map.of() : ConfigDefaults.of(mixee).kafkaProperties());
    if (kafkaConfig != null) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(kafkaConfig)) {
        p.load(r);
      } catch (IOException e) {
        throw new UserError("--kafka-config " + kafkaConfig + ": " + e.getMessage());
      }
      p.forEach((k, v) -> map.put(k.toString(), v));
    }
    return map;
  }

  String requireBootstrap() {
    if (bootstrapServers == null || bootstrapServers.isBlank()) {
      throw new UserError("--bootstrap-servers is required (or use 'tapflow local' for an embedded broker)");
    }
    return bootstrapServers;
  }
}
