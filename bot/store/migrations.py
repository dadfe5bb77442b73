"""Numbered schema migrations, applied in order and recorded in `PRAGMA user_version`.

Append a new string to MIGRATIONS for every schema change; never edit one that has shipped.
All times are stored as ISO 8601 UTC text ("2026-09-14T07:00:00+00:00").
"""

MIGRATIONS: list[str] = [
    # 1: the whole first schema.
    """
    CREATE TABLE guild_settings (
        guild_id                 INTEGER PRIMARY KEY,
        programme_channel_id     INTEGER,
        announcements_channel_id INTEGER,
        digest_channel_id        INTEGER,
        organiser_role_id        INTEGER,
        timezone                 TEXT,
        daily_post_time          TEXT,
        digest_time              TEXT,
        reminder_leads           TEXT,
        updated_at               TEXT NOT NULL
    );

    CREATE TABLE programmes (
        guild_id     INTEGER PRIMARY KEY,
        source       TEXT NOT NULL CHECK (source IN ('seed', 'import')),
        event_json   TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        loaded_at    TEXT NOT NULL
    );

    CREATE TABLE sessions (
        guild_id    INTEGER NOT NULL,
        session_id  TEXT NOT NULL,
        title       TEXT NOT NULL,
        start_utc   TEXT NOT NULL,
        end_utc     TEXT NOT NULL,
        host        TEXT NOT NULL DEFAULT '',
        speakers    TEXT NOT NULL DEFAULT '[]',
        format      TEXT NOT NULL DEFAULT '',
        join_url    TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        components  TEXT NOT NULL DEFAULT '[]',
        tags        TEXT NOT NULL DEFAULT '[]',
        cancelled   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (guild_id, session_id)
    );
    CREATE INDEX sessions_by_start ON sessions (guild_id, start_utc);

    -- Registrations outlive a cancelled session (kept for the record), so no foreign key.
    CREATE TABLE interests (
        guild_id   INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        user_id    INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (guild_id, session_id, user_id)
    );
    CREATE INDEX interests_by_user ON interests (guild_id, user_id);

    CREATE TABLE member_prefs (
        guild_id          INTEGER NOT NULL,
        user_id           INTEGER NOT NULL,
        reminder_setting  TEXT NOT NULL DEFAULT 'default',
        dm_closed         INTEGER NOT NULL DEFAULT 0,
        digest_opt_out    INTEGER NOT NULL DEFAULT 0,
        share_notice_sent INTEGER NOT NULL DEFAULT 0,
        updated_at        TEXT NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );

    CREATE TABLE shares (
        message_id       INTEGER PRIMARY KEY,
        guild_id         INTEGER NOT NULL,
        channel_id       INTEGER NOT NULL,
        author_id        INTEGER NOT NULL,
        author_name      TEXT NOT NULL,
        content          TEXT NOT NULL,
        jump_url         TEXT NOT NULL,
        attachment_count INTEGER NOT NULL DEFAULT 0,
        image_url        TEXT,
        created_at       TEXT NOT NULL,
        reaction_count   INTEGER NOT NULL DEFAULT 0,
        manual           INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX shares_by_day ON shares (guild_id, created_at);
    CREATE INDEX shares_by_author ON shares (guild_id, author_id);

    CREATE TABLE announcements (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id     INTEGER NOT NULL,
        author_id    INTEGER NOT NULL,
        channel_id   INTEGER NOT NULL,
        title        TEXT NOT NULL DEFAULT '',
        body         TEXT NOT NULL,
        ping_role_id INTEGER,
        session_id   TEXT,
        send_at      TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        status       TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sent', 'late', 'missed', 'cancelled', 'failed')),
        message_id   INTEGER,
        sent_at      TEXT
    );
    CREATE INDEX announcements_by_status ON announcements (guild_id, status, send_at);

    -- The delivery ledger: one row per automatic send, claimed before the send.
    CREATE TABLE deliveries (
        key        TEXT PRIMARY KEY,
        guild_id   INTEGER,
        kind       TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'skipped', 'failed')),
        owner      TEXT NOT NULL,
        message_id INTEGER,
        reason     TEXT,
        attempts   INTEGER NOT NULL DEFAULT 1,
        claimed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX deliveries_by_kind ON deliveries (guild_id, kind, status);

    CREATE TABLE audit_log (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        user_id    INTEGER NOT NULL,
        action     TEXT NOT NULL,
        detail     TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE INDEX audit_by_guild ON audit_log (guild_id, id);
    """,
    # 2: schedule-change notices still to be told (bot/store/changes.py): persisted before the
    # fan-out starts, so a restart mid-way resumes it; `done_at` set once every send is settled.
    """
    CREATE TABLE change_notices (
        guild_id     INTEGER NOT NULL,
        session_id   TEXT NOT NULL,
        change_hash  TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('moved', 'cancelled')),
        old_title    TEXT NOT NULL,
        old_start    TEXT NOT NULL,
        old_end      TEXT NOT NULL,
        new_title    TEXT,
        new_start    TEXT,
        new_end      TEXT,
        new_join_url TEXT NOT NULL DEFAULT '',
        created_at   TEXT NOT NULL,
        done_at      TEXT,
        PRIMARY KEY (guild_id, session_id, change_hash)
    );
    CREATE INDEX change_notices_pending ON change_notices (guild_id, done_at);
    """,
    # 3: digest. `shares.edited_at` (Discord's edit time, else the creation time; microsecond
    # UTC text) so an out-of-order edit never overwrites newer text; `share_removals` records a
    # "Remove from digest" so later edits/events never collect that message again. Ids and a
    # time only (no member text); the author id lets opt-out erase a member's rows.
    """
    ALTER TABLE shares ADD COLUMN edited_at TEXT;

    CREATE TABLE share_removals (
        message_id INTEGER PRIMARY KEY,
        guild_id   INTEGER NOT NULL,
        author_id  INTEGER NOT NULL,
        removed_at TEXT NOT NULL
    );
    CREATE INDEX share_removals_by_author ON share_removals (guild_id, author_id);
    CREATE INDEX share_removals_by_time ON share_removals (guild_id, removed_at);
    """,
    # 4: the programme-change outbox. `replace_programme` records each non-empty diff in the
    # same transaction as the new programme; the programme service marks it handled once every
    # change listener has run, and replays what is still pending at the next guild preparation
    # (a stop between the commit and the listeners would otherwise lose the change).
    """
    CREATE TABLE programme_changes (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        diff_json  TEXT NOT NULL,
        created_at TEXT NOT NULL,
        handled_at TEXT
    );
    CREATE INDEX programme_changes_pending ON programme_changes (guild_id, handled_at, id);
    """,
    # 5: Discord-native (issue 12). `interests.source` says where a registration came from
    # ('command': /interested or a button; 'event': "Interested" on the mirrored Discord event),
    # so un-marking the event removes only a registration the event made. `session_events`
    # holds the ids of the scheduled events the bot created (it touches no other event);
    # `event_sync` the per-guild switch (NULL: the environment's), the pause after a refusal
    # and whether organisers were told; `session_feedback` one answer per member per session.
    """
    ALTER TABLE interests ADD COLUMN source TEXT NOT NULL DEFAULT 'command'
        CHECK (source IN ('command', 'event'));

    CREATE TABLE session_events (
        guild_id    INTEGER NOT NULL,
        session_id  TEXT NOT NULL,
        event_id    INTEGER NOT NULL UNIQUE,
        fingerprint TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'cancelled', 'gone')),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (guild_id, session_id)
    );

    CREATE TABLE event_sync (
        guild_id      INTEGER PRIMARY KEY,
        enabled       INTEGER,
        paused_reason TEXT,
        paused_at     TEXT,
        cap_alerted   INTEGER NOT NULL DEFAULT 0,
        updated_at    TEXT NOT NULL
    );

    CREATE TABLE session_feedback (
        guild_id   INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        user_id    INTEGER NOT NULL,
        rating     INTEGER CHECK (rating BETWEEN 1 AND 5),
        attended   INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (guild_id, session_id, user_id)
    );
    """,
    # 6: small facts about the bot itself (issue 15): `commands:<application>:<guild|global>`
    # holds the hash of the command tree last synced, so a start with an unchanged tree skips
    # the (rate-limited) sync.
    """
    CREATE TABLE bot_state (
        name       TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 7 (6 is perf's bot_state, merged before this): reminders that reach people on the real
    # Discord (issue 10).
    # `dm_channels`: a member's DM channel id (Discord never changes it), so a DM after a restart
    # is one request; `messaged_at` is the first DM that reached them (a quarantined bot can still
    # DM those). `alerts`: what the organisers were told (or would be, without a channel), for
    # `/organiser stats`. `share_cursors`: the newest message seen per share channel, where the
    # start-up backfill resumes. `guild_settings.organiser_channel_id`: `/organiser setup`.
    """
    CREATE TABLE dm_channels (
        user_id     INTEGER PRIMARY KEY,
        channel_id  INTEGER,
        messaged_at TEXT,
        updated_at  TEXT NOT NULL
    );

    CREATE TABLE alerts (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        text       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        posted     INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX alerts_by_kind ON alerts (guild_id, kind, created_at);

    CREATE TABLE share_cursors (
        channel_id      INTEGER PRIMARY KEY,
        guild_id        INTEGER NOT NULL,
        last_message_id INTEGER NOT NULL,
        updated_at      TEXT NOT NULL
    );

    ALTER TABLE guild_settings ADD COLUMN organiser_channel_id INTEGER;
    """,
    # 8 (issue 11, hardening; 6 is perf's and 7 deliv's, merged before this one):
    # `guild_settings.share_channel_ids` (comma-separated ids; shares only from these channels,
    # `/organiser setup share_channels`). `posted_digests`: every
    # message of a posted digest or roundup, with the share ids it was rendered from, so an
    # erasure (opt-out, "Remove from digest", retention) can edit what was posted;
    # `needs_redaction` marks a post to re-render, set before the erasure so a stop in between
    # still redacts at the next start. `retired_counts`: ledger and interest rows deleted by
    # retention, kept as counts so the figures for organisers stay whole.
    """
    ALTER TABLE guild_settings ADD COLUMN share_channel_ids TEXT;

    CREATE TABLE posted_digests (
        message_id      INTEGER PRIMARY KEY,
        guild_id        INTEGER NOT NULL,
        channel_id      INTEGER NOT NULL,
        post_id         INTEGER NOT NULL,
        kind            TEXT NOT NULL,
        day             TEXT NOT NULL,
        part            INTEGER NOT NULL,
        share_ids       TEXT NOT NULL DEFAULT '[]',
        posted_at       TEXT NOT NULL,
        needs_redaction INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX posted_digests_by_post ON posted_digests (guild_id, post_id, part);
    CREATE INDEX posted_digests_pending ON posted_digests (guild_id, needs_redaction);

    CREATE TABLE retired_counts (
        guild_id INTEGER NOT NULL,
        source   TEXT NOT NULL,
        kind     TEXT NOT NULL,
        status   TEXT NOT NULL,
        count    INTEGER NOT NULL,
        PRIMARY KEY (guild_id, source, kind, status)
    );
    """,
]
