-- autowallet schema 3 (docs/postgres.md): the bot's conversation state per
-- chat (storage/flows.go). The data is the bot's own versioned encoding,
-- opaque here; expires is on the server's clock; version comes from one
-- sequence, so a version is never reused by any chat's flow.

CREATE SEQUENCE chat_flow_versions AS bigint MINVALUE 1;

CREATE TABLE chat_flows (
	chat_id bigint PRIMARY KEY CHECK (chat_id <> 0),
	version bigint NOT NULL CHECK (version > 0),
	expires timestamptz NOT NULL,
	data    bytea NOT NULL CHECK (length(data) BETWEEN 1 AND 4096)
);
CREATE INDEX chat_flows_expires ON chat_flows (expires);
