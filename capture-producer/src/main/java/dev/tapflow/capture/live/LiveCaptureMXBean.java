package dev.tapflow.capture.live;

import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.schemas.InterfaceCaptureStats;
import java.lang.management.ManagementFactory;
import java.util.function.Supplier;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live agent's counters as JMX attributes, {@code dev.tapflow:type=LiveCapture,agent=ID}:
 * the same numbers as the {@code CaptureStats} reports (cumulative since the start, refreshed
 * every second), for whatever scrapes JMX (jconsole, the Prometheus JMX exporter).
 */
public interface LiveCaptureMXBean {
  long getPackets();

  long getReceived();

  long getKernelDrops();

  long getInterfaceDrops();

  long getSegments();

  long getPayloadBytes();

  long getBatches();

  long getPublishedBatches();

  long getPublishedSegments();

  long getPublishedBytes();

  long getProducerErrors();

  long getBacklogDrops();

  long getBacklogDropSegments();

  long getBacklogBytes();

  long getBacklogPeakBytes();

  long getInFlightSegments();

  /** The registered bean; closing unregisters it. */
  final class Registration implements LiveCaptureMXBean, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LiveCaptureMXBean.class);

    private final Supplier<CaptureStats> latest;
    private ObjectName name;

    private Registration(Supplier<CaptureStats> latest) {
      this.latest = latest;
    }

    @Override public long getPackets() { return latest.get().getPackets(); }

    @Override public long getReceived() { return latest.get().getInterfaces().stream().mapToLong(InterfaceCaptureStats::getReceived).sum(); }

    @Override public long getKernelDrops() { return latest.get().getInterfaces().stream().mapToLong(InterfaceCaptureStats::getKernelDrops).sum(); }

    @Override public long getInterfaceDrops() { return latest.get().getInterfaces().stream().mapToLong(InterfaceCaptureStats::getInterfaceDrops).sum(); }

    @Override public long getSegments() { return latest.get().getSegments(); }

    @Override public long getPayloadBytes() { return latest.get().getPayloadBytes(); }

    @Override public long getBatches() { return latest.get().getBatches(); }

    @Override public long getPublishedBatches() { return latest.get().getPublishedBatches(); }

    @Override public long getPublishedSegments() { return latest.get().getPublishedSegments(); }

    @Override public long getPublishedBytes() { return latest.get().getPublishedBytes(); }

    @Override public long getProducerErrors() { return latest.get().getProducerErrors(); }

    @Override public long getBacklogDrops() { return latest.get().getBacklogDrops(); }

    @Override public long getBacklogDropSegments() { return latest.get().getBacklogDropSegments(); }

    @Override public long getBacklogBytes() { return latest.get().getBacklogBytes(); }

    @Override public long getBacklogPeakBytes() { return latest.get().getBacklogPeakBytes(); }

    @Override public long getInFlightSegments() { return latest.get().getInFlightSegments(); }

    /** Registers the view of {@code latest}; a name already taken (two captures of one agent in a JVM) is logged and skipped. */
    static Registration register(String agent, Supplier<CaptureStats> latest) {
      Registration r = new Registration(latest);
      try {
        ObjectName name = new ObjectName("dev.tapflow:type=LiveCapture,agent=" + ObjectName.quote(agent));
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        server.registerMBean(r, name);
        r.name = name;
      } catch (JMException e) {
        LOG.warn("live capture metrics not registered in JMX: {}", e.toString());
      }
      return r;
    }

    @Override
    public void close() {
      if (name == null) {
        return;
      }
      try {
        ManagementFactory.getPlatformMBeanServer().unregisterMBean(name);
      } catch (JMException e) {
        LOG.debug("unregistering {}: {}", name, e.toString());
      }
      name = null;
    }
  }
}
