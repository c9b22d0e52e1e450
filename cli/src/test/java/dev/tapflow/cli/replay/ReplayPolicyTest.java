package dev.tapflow.cli.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which requests a replay sends, and how a target URL is read (its password never printed). */
class ReplayPolicyTest {

  private final ReplayPolicy readOnly = new ReplayPolicy(false, Set.of(), Set.of());
  private final ReplayPolicy writes = new ReplayPolicy(true, Set.of(), Set.of());

  @Test
  void readsAreSentWritesOnlyWhenAllowed() {
    for (String read : new String[] {"GET", "MGET", "HGETALL", "LRANGE", "ZSCORE", "PING", "SELECT", "EXISTS"}) {
      assertNull(readOnly.skipReason("redis", read, "k", null), read);
    }
    for (String write : new String[] {"SET", "DEL", "INCR", "LPUSH", "EXPIRE", "FLUSHALL", "EVAL", "PUBLISH", "XYZ"}) {
      assertEquals(ReplayPolicy.WRITE, readOnly.skipReason("redis", write, "k", null), write);
      assertNull(writes.skipReason("redis", write, "k", null), write);
    }
    assertNull(readOnly.skipReason("redis", "CONFIG", null, "GET save"));
    assertEquals(ReplayPolicy.WRITE, readOnly.skipReason("redis", "CONFIG", null, "SET maxmemory 1"));
    assertNull(readOnly.skipReason("redis", "CLIENT", null, "SETNAME app"));
    assertEquals(ReplayPolicy.WRITE, readOnly.skipReason("redis", "CLIENT", null, "KILL ID 7"));
  }

  @Test
  void memcachedWritesAreTheStorageAndAdminCommands() {
    for (String read : new String[] {"GET", "GETS", "MG", "MN", "VERSION", "GetKQ", "Noop"}) {
      assertNull(readOnly.skipReason("memcached", read, "k", null), read);
    }
    for (String write : new String[] {"SET", "ADD", "REPLACE", "APPEND", "PREPEND", "CAS", "INCR", "DECR", "DELETE",
        "TOUCH", "FLUSH_ALL", "GAT", "MS", "MD", "SetQ", "Delete"}) {
      assertEquals(ReplayPolicy.WRITE, readOnly.skipReason("memcached", write, "k", null), write);
    }
    assertEquals(ReplayPolicy.WRITE, readOnly.skipReason("memcached", "MG", "k", "v T30"), "mg that touches");
  }

  @Test
  void credentialsAndStreamsAreNeverSent() {
    assertEquals(ReplayPolicy.CREDENTIALS, writes.skipReason("redis", "AUTH", null, "<redacted>"));
    assertEquals(ReplayPolicy.CREDENTIALS, writes.skipReason("redis", "HELLO", null, "3 AUTH default <redacted>"));
    assertNull(writes.skipReason("redis", "HELLO", null, "3"));
    assertEquals(ReplayPolicy.CREDENTIALS, writes.skipReason("redis", "MIGRATE", "k", "h 6379 0 5000 AUTH <redacted>"));
    assertEquals(ReplayPolicy.CREDENTIALS, writes.skipReason("memcached", "SASL Auth", null, null));
    for (String c : new String[] {"MONITOR", "SYNC", "PSYNC", "SHUTDOWN", "QUIT"}) {
      assertEquals(ReplayPolicy.NOT_REPLAYABLE, writes.skipReason("redis", c, null, null), c);
    }
    assertEquals(ReplayPolicy.NOT_REPLAYABLE, readOnly.skipReason("memcached", "QUIT", null, null));
  }

  @Test
  void includeAndExcludeByName() {
    ReplayPolicy p = new ReplayPolicy(true, Set.of("get", "set"), Set.of("SET"));
    assertNull(p.skipReason("redis", "GET", "k", null));
    assertEquals(ReplayPolicy.EXCLUDED, p.skipReason("redis", "SET", "k", null));
    assertEquals(ReplayPolicy.EXCLUDED, p.skipReason("redis", "INCR", "k", null));
  }

  @Test
  void targetUrls() {
    ReplayTarget t = ReplayTarget.parse("redis://app:s3cret@10.0.0.5:6380", null);
    assertEquals(new ReplayTarget("redis", "10.0.0.5", 6380, "app", "s3cret"), t);
    assertEquals("redis://10.0.0.5:6380", t.toString());
    assertEquals("s3cret", ReplayTarget.parse("redis://s3cret@h:1", null).password());
    assertNull(ReplayTarget.parse("redis://s3cret@h:1", null).user());
    assertEquals("other", ReplayTarget.parse("redis://:s3cret@h:1", "other").password());
    assertEquals("memcached", ReplayTarget.parse("memcached://h:11211", null).protocol());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ReplayTarget.parse("http://u:s3cret@h:1", null));
    assertFalse(e.getMessage().contains("s3cret"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ReplayTarget.parse("redis://h", null));
    assertThrows(IllegalArgumentException.class, () -> ReplayTarget.parse("memcached://:pw@h:1", null));
  }
}
