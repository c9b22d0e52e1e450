package dev.tapflow.stream.protocol.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Values never reach a fact unless asked: by default an argument that is a value shows as its
 * size; keys, options and numbers stay. An error reply to a request that carried credentials
 * loses whatever it quotes (Redis quotes the offending argument, a password hash among them).
 */
class RedisValuesTest {

  /** One request (an inline command) and its reply through a session; the fact it makes. */
  private static Exchange exchange(SessionLimits limits, String request, String reply) {
    ProtocolSession s = new RedisProtocol().newSession(limits);
    Recording out = new Recording();
    byte[] req = (request + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
    byte[] rep = reply.getBytes(StandardCharsets.ISO_8859_1);
    s.clientData(req, 0, req.length, 0, 10, out);
    s.serverData(rep, 0, rep.length, 0, 20, out);
    assertEquals(1, out.exchanges.size(), out.exchanges.toString());
    return out.exchanges.get(0);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "SET k secret EX 10            | k      | <6 bytes> EX 10",
      "SETEX k 10 secret             | k      | 10 <6 bytes>",
      "MSET a secret b other         | a      | <6 bytes> b <5 bytes>",
      "HSET h f1 secret f2 other     | h      | f1 <6 bytes> f2 <5 bytes>",
      "LPUSH l secret other          | l      | <6 bytes> <5 bytes>",
      "SADD s secret                 | s      | <6 bytes>",
      "ZADD z NX 1 secret 2 other    | z      | NX 1 <6 bytes> 2 <5 bytes>",
      "GEOADD g 13.3 52.5 secret     | g      | 13.3 52.5 <6 bytes>",
      "XADD st MAXLEN ~ 10 * f secret | st    | MAXLEN ~ 10 * f <6 bytes>",
      "EVAL script 1 k secret        | k      | script 1 <6 bytes>",
      "PUBLISH chan secret           | chan   | <6 bytes>",
      "LINSERT l BEFORE pivot secret | l      | BEFORE pivot <6 bytes>",
      "GET k                         | k      | ''",
      "EXPIRE k 10                   | k      | 10"})
  void valuesShowOnlyTheirSize(String request, String resource, String args) {
    Exchange e = exchange(SessionLimits.DEFAULTS, request, "+OK\r\n");
    assertEquals(resource, e.resource());
    assertEquals(args.isEmpty() ? null : args, e.args());
  }

  @Test
  void keptWhenAsked() {
    Exchange e = exchange(SessionLimits.DEFAULTS.withKeepValues(true), "SET k secret EX 10", "+OK\r\n");
    assertEquals("secret EX 10", e.args());
  }

  @Test
  void errorsOfRequestsWithCredentialsLoseWhatTheyQuote() {
    String hash = "a".repeat(63);
    Exchange acl = exchange(SessionLimits.DEFAULTS, "ACL SETUSER carol #" + hash,
        "-ERR Error in ACL SETUSER modifier '#" + hash + "': The password hash must be exactly 64 characters\r\n");
    assertEquals("SETUSER carol <redacted>", acl.args());
    assertEquals("ERR Error in ACL SETUSER modifier '<redacted>': The password hash must be exactly 64 characters",
        acl.error());
    // a request without credentials keeps its error whole
    Exchange other = exchange(SessionLimits.DEFAULTS, "CONFIG SET maxmemory lots",
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument couldn't be parsed into an integer\r\n");
    assertEquals("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument couldn't be parsed into an integer",
        other.error());
  }
}
