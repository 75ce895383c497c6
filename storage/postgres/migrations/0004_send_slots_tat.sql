-- autowallet schema 4 (docs/postgres.md): an index on the chats' send slot
-- times for PruneSendSlots (storage/postgres/cards.go), which looks for
-- `chat_id <> 0 AND tat < statement_timestamp()`. Without it each prune
-- batch read the whole table to find the past slots among the recent ones.
-- Partial: the bot's own row (chat 0) is never pruned, so it has no entry.
-- The price is on the send path: a reservation that moves a chat's time
-- now updates this index too (and tat is no longer HOT-updatable).
-- Built inside the migration's transaction (CREATE INDEX CONCURRENTLY
-- cannot be): it holds writes to send_slots for the build, which over the
-- chats of the last minute or so is short.

CREATE INDEX send_slots_tat ON send_slots (tat) WHERE chat_id <> 0;
