package dev.tapflow.cli;

import dev.tapflow.capture.live.LiveCapture;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

/** Creates tapflow's topics when they do not exist (never changes existing ones), the agents' stats topic included. */
final class Topics {
  private Topics() {}

  static void ensure(String bootstrap, Map<String, Object> clientProps, ProcessorConfig config,
      LatencyWindowConfig windows, int partitions) {
    Properties p = new Properties();
    clientProps.forEach((k, v) -> {
      if (org.apache.kafka.clients.admin.AdminClientConfig.configNames().contains(k)) {
        p.put(k, v);
      }
    });
    p.put("bootstrap.servers", bootstrap);
    p.put("request.timeout.ms", "15000");
    p.put("default.api.timeout.ms", "30000");
    try (Admin admin = Admin.create(p)) {
      Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      List<NewTopic> create = new ArrayList<>();
      for (String t : List.of(config.segmentsTopic(), config.factsTopic(), config.decodeErrorsTopic(),
          windows.topic(), LiveCapture.STATS_TOPIC)) {
        if (!existing.contains(t)) {
          create.add(new NewTopic(t, partitions, (short) 1));
        }
      }
      if (!create.isEmpty()) {
        admin.createTopics(create).all().get(30, TimeUnit.SECONDS);
      }
    } catch (ExecutionException | TimeoutException e) {
      throw new UserError("cannot create tapflow's topics on " + bootstrap + ": " + UserError.message(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UserError("interrupted");
    }
  }
}
