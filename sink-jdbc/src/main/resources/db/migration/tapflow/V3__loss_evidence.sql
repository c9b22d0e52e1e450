-- Loss evidence on facts (issue 3): which side lost bytes, and how the pair was made.
--   request_gap   bytes of the request itself were not captured (its command is known)
--   response_gap  bytes of the response were not captured, or a gap may have held it (TIMEOUT)
--   pairing       order | after_gap | id | none
ALTER TABLE latency_facts
  ADD COLUMN request_gap  boolean NOT NULL DEFAULT false,
  ADD COLUMN response_gap boolean NOT NULL DEFAULT false,
  ADD COLUMN pairing      text    NOT NULL DEFAULT 'order';
