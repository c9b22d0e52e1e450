package dev.tapflow.cli;

import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.sink.TextTable;
import dev.tapflow.stream.protocol.IsolatedProtocol;
import dev.tapflow.stream.protocol.ProtocolCatalog;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code tapflow protocols}: what this process would decode, built in or plug-in, with ports and versions. */
@Command(name = "protocols", mixinStandardHelpOptions = true,
    description = "List the protocols tapflow decodes: built-ins, plug-ins on the classpath and in the plug-ins "
        + "folder, in content-probe order, with their default ports and versions.")
final class ProtocolsCommand implements Callable<Integer> {

  @Mixin
  PluginOptions plugins;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    ProtocolCatalog catalog = plugins.install();
    TextTable t = new TextTable("PROTOCOL", "TCP PORTS", "UDP PORTS", "VERSION", "SOURCE");
    for (ProtocolCatalog.Entry e : catalog.entries()) {
      Protocol p = e.protocol() instanceof IsolatedProtocol i ? i.plugin() : e.protocol();
      String udp = p instanceof DatagramProtocol d ? ports(d.defaultDatagramPorts()) : "-";
      t.row(e.name(), ports(p.defaultPorts()), udp, p.version(), e.source());
    }
    StringBuilder out = new StringBuilder();
    t.appendTo(out);
    spec.commandLine().getOut().print(out);
    spec.commandLine().getOut().flush();
    return 0;
  }

  private static String ports(int[] ports) {
    return ports.length == 0 ? "-" : Arrays.stream(ports).mapToObj(Integer::toString).collect(Collectors.joining(","));
  }
}
