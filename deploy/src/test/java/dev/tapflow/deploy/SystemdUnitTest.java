package dev.tapflow.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** deploy/systemd/tapflow-capture.service as systemd reads it: systemd-analyze verify, silent (an unknown key is only a warning). */
class SystemdUnitTest {
  @TempDir
  Path dir;

  @Test
  void systemdAcceptsTheUnitWithoutAWarning() throws Exception {
    Repo.requireTool("systemd-analyze");
    Repo.Result r = Repo.run(Repo.ROOT, Map.of(), "systemd-analyze", "verify", Repo.UNIT.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("", (r.out() + r.err()).strip(), "systemd-analyze verify warned");
    String unit = Files.readString(Repo.UNIT);
    assertTrue(unit.contains("AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN"));
    assertTrue(unit.contains("CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN"));

    // the check itself catches a mistake: a misspelt key makes it speak
    Path broken = dir.resolve("tapflow-capture.service");
    Files.writeString(broken, unit.replace("AmbientCapabilities=", "AmbientCapabilitys="));
    Repo.Result b = Repo.run(Repo.ROOT, Map.of(), "systemd-analyze", "verify", broken.toString());
    assertTrue((b.out() + b.err()).contains("AmbientCapabilitys"), b.out() + b.err());
  }
}
