package dev.tapflow.stream.protocol.redis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.protocol.api.Protocol.Probe;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RedisProtocolTest {

  private final RedisProtocol redis = new RedisProtocol();

  private Probe probe(String s) {
    byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
    return redis.probe(b, 0, b.length);
  }

  @Test
  void nameAndPorts() {
    assertEquals("redis", redis.name());
    assertArrayEquals(new int[] {6379}, redis.defaultPorts());
  }

  @Test
  void requests() {
    assertEquals(Probe.REQUEST, probe("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
    assertEquals(Probe.REQUEST, probe("*1\r\n"));
    assertEquals(Probe.REQUEST, probe("PING\r\n"));
    assertEquals(Probe.REQUEST, probe("set key \"value\"\r\n"));
    assertEquals(Probe.REQUEST, probe("AUTH noone password\r\nPING\r\n"));
  }

  @Test
  void responses() {
    assertEquals(Probe.RESPONSE, probe("+OK\r\n"));
    assertEquals(Probe.RESPONSE, probe("-ERR unknown command\r\n"));
    assertEquals(Probe.RESPONSE, probe("-WRONGPASS invalid username-password pair\r\n"));
    assertEquals(Probe.RESPONSE, probe(":1\r\n"));
    assertEquals(Probe.RESPONSE, probe("$-1\r\n"));
    assertEquals(Probe.RESPONSE, probe("$5\r\nhello\r\n"));
    assertEquals(Probe.RESPONSE, probe("%7\r\n$6\r\nserver\r\n"));
    assertEquals(Probe.RESPONSE, probe(">3\r\n$7\r\nmessage\r\n"));
  }

  @Test
  void notRedis() {
    assertEquals(Probe.NO, probe("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assertEquals(Probe.NO, probe("HTTP/1.1 200 OK\r\n"));
    assertEquals(Probe.NO, probe("HTTP/5.?2 200 \r\r"));
    assertEquals(Probe.NO, probe("CONN G<:&HTTP/1-\rT21/\u0088\u0000\r\n"));
    assertEquals(Probe.NO, probe("POST /x HTTP/1.0\r\n"));
    assertEquals(Probe.NO, probe("SSH-2.0-OpenSSH_9.2\r\n"));
    assertEquals(Probe.NO, probe("220 smtp.example.com ESMTP\r\n"));
    assertEquals(Probe.NO, probe("*3\r\n+no\r\n"));
    assertEquals(Probe.NO, probe("+OK"), "an incomplete line says nothing");
    assertEquals(Probe.NO, probe("get x"), "an incomplete inline line says nothing");
    Random rnd = new Random(1);
    int claimed = 0;
    for (int i = 0; i < 100_000; i++) {
      byte[] b = new byte[rnd.nextInt(64) + 1];
      rnd.nextBytes(b);
      if (redis.probe(b, 0, b.length) != Probe.NO) {
        claimed++;
      }
    }
    assertEquals(0, claimed, "random binary data is never taken for Redis");
  }
}
