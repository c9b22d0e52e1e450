package dev.tapflow.stream.protocol;

import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.Protocol;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The protocols a processor decodes and which server ports map to which protocol. Ports
 * decide first (configured ports, then each protocol's defaults); content decides when no
 * port matches. TCP and UDP have separate port maps: a configured port applies to both for a
 * protocol that runs over both ({@link DatagramProtocol}).
 */
public final class Protocols {

  private final List<Protocol> all;
  private final List<DatagramProtocol> datagram = new ArrayList<>();
  private final Map<Integer, Protocol> byPort = new HashMap<>();
  private final Map<Integer, DatagramProtocol> byDatagramPort = new HashMap<>();
  private final Map<String, Protocol> byName = new HashMap<>();

  /**
   * @param protocols   in probe order
   * @param serverPorts extra server ports per protocol name (e.g. redis -> 6380), may be empty
   */
  public Protocols(List<Protocol> protocols, Map<String, List<Integer>> serverPorts) {
    this.all = List.copyOf(protocols);
    for (Protocol p : protocols) {
      byName.put(p.name(), p);
      for (int port : p.defaultPorts()) {
        byPort.putIfAbsent(port, p);
      }
      if (p instanceof DatagramProtocol d) {
        datagram.add(d);
        for (int port : d.defaultDatagramPorts()) {
          byDatagramPort.putIfAbsent(port, d);
        }
      }
    }
    serverPorts.forEach((name, ports) -> {
      Protocol p = byName.get(name);
      if (p == null) {
        throw new IllegalArgumentException("unknown protocol in server ports: " + name + " (known: " + byName.keySet() + ")");
      }
      for (int port : ports) {
        byPort.put(port, p);
        if (p instanceof DatagramProtocol d) {
          byDatagramPort.put(port, d);
        }
      }
    });
  }

  /** The process's protocols ({@link ProtocolCatalog#installed()}: built-ins and plug-ins) with extra server ports. */
  public static Protocols installed(Map<String, List<Integer>> serverPorts) {
    return ProtocolCatalog.installed().protocols(serverPorts);
  }

  /** The protocol whose server listens on this TCP port, or null. */
  public Protocol forPort(int port) {
    return byPort.get(port);
  }

  /** The protocol whose server listens on this UDP port, or null. */
  public DatagramProtocol forDatagramPort(int port) {
    return byDatagramPort.get(port);
  }

  public Protocol byName(String name) {
    return byName.get(name);
  }

  public List<Protocol> all() {
    return all;
  }

  /** The protocols that run over UDP, in probe order. */
  public List<DatagramProtocol> datagramProtocols() {
    return datagram;
  }
}
