package dev.tapflow.cli;

import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.Locale;

/**
 * Times as people type them on the command line, all meaning an instant:
 * <ul>
 *   <li>ISO-8601 with a zone: {@code 2026-12-02T10:05:00Z}, {@code 2026-12-02T11:05+01:00};
 *   <li>a date and time without a zone, in UTC like every time tapflow prints:
 *       {@code '2026-12-02 10:05'}, {@code 2026-12-02T10:05:30.25}, {@code 2026-12-02} (midnight);
 *   <li>relative to now: {@code -1h}, {@code 90s ago}, {@code now}.
 * </ul>
 */
final class TimeArgs {
  /** {@code yyyy-MM-dd HH:mm[:ss[.fraction]]}. */
  private static final DateTimeFormatter UTC_TIME = new DateTimeFormatterBuilder()
      .appendPattern("yyyy-MM-dd HH:mm")
      .optionalStart().appendPattern(":ss").appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true).optionalEnd()
      .toFormatter(Locale.ROOT);

  private TimeArgs() {}

  static Instant parse(String text, String option) {
    return parse(text, option, Clock.systemUTC());
  }

  static Instant parse(String text, String option, Clock clock) {
    String t = text.trim();
    String lower = t.toLowerCase(Locale.ROOT);
    if (lower.equals("now")) {
      return clock.instant();
    }
    if (lower.startsWith("-") || lower.endsWith(" ago")) {
      String d = lower.startsWith("-") ? lower.substring(1) : lower.substring(0, lower.length() - 4);
      return clock.instant().minus(PipelineOptions.Durations.parse(d.trim(), option));
    }
    try {
      return OffsetDateTime.parse(t).toInstant(); // Z or an offset
    } catch (DateTimeParseException e) {
      // no zone: below
    }
    try {
      return LocalDateTime.parse(t.replace('T', ' '), UTC_TIME).toInstant(ZoneOffset.UTC);
    } catch (DateTimeParseException e) {
      try {
        return LocalDate.parse(t).atStartOfDay().toInstant(ZoneOffset.UTC);
      } catch (DateTimeParseException e2) {
        throw new UserError(option + ": not a time: '" + text
            + "' (use e.g. '2026-11-23 10:05' (UTC), 2026-11-23T10:05:00Z, -1h or '1h ago')");
      }
    }
  }
}
