package dev.tapflow.stream.protocol.redis;

import java.nio.charset.StandardCharsets;

/** How RESP bytes become text on a fact: UTF-8, with control bytes escaped so that no NUL or
 * line break reaches a log line or a PostgreSQL text column. */
final class RespText {

  private RespText() {}

  static String render(byte[] b, int off, int len) {
    boolean plain = true;
    for (int i = off; i < off + len; i++) {
      int c = b[i] & 0xff;
      if (c < 0x20 || c == 0x7f || c == '\\') {
        plain = false;
        break;
      }
    }
    if (plain) {
      return new String(b, off, len, StandardCharsets.UTF_8);
    }
    StringBuilder sb = new StringBuilder(len + 16);
    int runStart = off;
    for (int i = off; i < off + len; i++) {
      int c = b[i] & 0xff;
      if (c < 0x20 || c == 0x7f || c == '\\') {
        sb.append(new String(b, runStart, i - runStart, StandardCharsets.UTF_8));
        if (c == '\\') {
          sb.append("\\\\");
        } else {
          sb.append("\\x").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
        }
        runStart = i + 1;
      }
    }
    sb.append(new String(b, runStart, off + len - runStart, StandardCharsets.UTF_8));
    return sb.toString();
  }
}
