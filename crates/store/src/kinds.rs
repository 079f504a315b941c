//! Every value the store keeps in a TEXT column from a fixed set (a reply's kind, a batch's
//! state...): one enum each, and its strings written here once. Rust code binds and reads these
//! enums, never the strings, so a misspelt kind does not compile; the schema's CHECK constraints
//! list the same strings (the tests below hold the two together).
//!
//! SQL filters such as `WHERE state = 'queued'` keep their literals: SQLite uses a partial index
//! only for a query whose WHERE repeats the index's own literal condition.

use std::fmt;

use pdu::{AddressKind, DeliveryState};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// A value kept in a TEXT column, from a fixed set.
pub(crate) trait TextValue: Copy + 'static {
    /// The type's name, for the error about a string that is none of its values.
    const NAME: &'static str;
    /// Every value.
    const ALL: &'static [Self];
    /// The string the database holds for it.
    fn as_sql(self) -> &'static str;

    /// The value the database holds as `text`, if it is one.
    fn from_sql_str(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_sql() == text)
    }
}

fn to_text<T: TextValue>(value: T) -> ToSqlOutput<'static> {
    ToSqlOutput::Borrowed(ValueRef::Text(value.as_sql().as_bytes()))
}

fn from_text<T: TextValue>(value: ValueRef<'_>) -> FromSqlResult<T> {
    let text = value.as_str()?;
    T::from_sql_str(text)
        .ok_or_else(|| FromSqlError::Other(format!("{text:?} is not a {}", T::NAME).into()))
}

/// A value of another crate's enum (pdu's) in a TEXT column: the orphan rule keeps rusqlite's
/// traits off the enum itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Text<T>(pub(crate) T);

impl<T: TextValue> ToSql for Text<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(to_text(self.0))
    }
}

impl<T: TextValue> FromSql for Text<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        from_text(value).map(Text)
    }
}

/// Defines a store enum kept as TEXT, with its strings, `as_str`, `Display`, serde's
/// `Serialize` (the same string) and rusqlite's `ToSql`/`FromSql`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// The string the database (and the JSON of `status`) holds for it.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl TextValue for $name {
            const NAME: &'static str = stringify!($name);
            const ALL: &'static [Self] = &[$( $name::$variant, )+];
            fn as_sql(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(to_text(*self))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                from_text(value)
            }
        }
    };
}

text_enum! {
    /// What an outgoing SMS is (`outgoing.kind`): the reply guard treats them differently.
    pub enum ReplyKind {
        /// The acknowledgement of a report, with its reference.
        Ack = "ack",
        /// The help text, answering a message no keyword matched (still recorded as a report).
        Unknown = "unknown",
        /// The help text, asked for.
        Help = "help",
        /// An info reply (an `[[info]]` entry of the keyword table).
        Info = "info",
        /// The first question of a survey.
        Survey = "survey",
        /// A later question of a survey, or one asked again.
        Question = "question",
        /// A platform message for a reporter.
        Platform = "platform",
        /// A technician's test SMS (`send`).
        Test = "test",
        /// An urgent report texted to a focal point while the platform is out of reach.
        Escalation = "escalation",
        /// A report's text, sent to a focal point who asked with `INFO`.
        EscalationInfo = "escalation_info",
    }
}

impl ReplyKind {
    /// Carries the help text: sent at most once an hour to one number.
    pub(crate) fn is_help_text(self) -> bool {
        matches!(self, ReplyKind::Help | ReplyKind::Unknown)
    }

    /// Uses up the hourly allowance per number. A survey's later questions are bounded by its
    /// steps (one re-ask each), a technician's test is no reply, and a platform message has its
    /// own limit per number (`outbound.max_per_recipient_per_day`).
    pub(crate) fn counts_per_sender(self) -> bool {
        !matches!(
            self,
            ReplyKind::Question
                | ReplyKind::Test
                | ReplyKind::Platform
                | ReplyKind::Escalation
                | ReplyKind::EscalationInfo
        )
    }

    /// Counts against the replies' daily budget: every SMS but a technician's test, a
    /// platform message (which has its own budget, in parts: `outbound.max_parts_per_day`), so
    /// the platform cannot starve the acknowledgements, and an escalation (its own budget too).
    pub(crate) fn counts_against_budget(self) -> bool {
        !matches!(
            self,
            ReplyKind::Test
                | ReplyKind::Platform
                | ReplyKind::Escalation
                | ReplyKind::EscalationInfo
        )
    }
}

text_enum! {
    /// Why a reply was not sent (`reply_refusals.kind`), as `status` counts them.
    pub enum RefusalKind {
        /// `replies.enabled` is off.
        Disabled = "disabled",
        /// The sender could not be decoded.
        NoSender = "no_sender",
        /// An alphanumeric sender (an operator or a service).
        Alphanumeric = "alphanumeric",
        /// A short code (an operator service).
        ShortCode = "short_code",
        /// One of the gateway's own numbers.
        OwnNumber = "own_number",
        /// A number on the block list.
        Blocked = "blocked",
        /// The help text already went to this number in the last hour.
        HelpOncePerHour = "help_once_per_hour",
        /// The per-number hourly limit.
        RateLimit = "rate_limit",
        /// The 24-hour budget.
        DailyBudget = "daily_budget",
        /// The message repeats a reply this number got (an answering machine).
        Echo = "echo",
        /// A platform message longer than `outbound.max_parts` SMS parts.
        TooLong = "too_long",
        /// The number already got `outbound.max_per_recipient_per_day` platform messages.
        RecipientDailyLimit = "recipient_daily_limit",
        /// The platform messages' 24-hour budget of parts (`outbound.max_parts_per_day`).
        PlatformBudget = "platform_budget",
        /// The sender sent more than `intake.max_reports_per_sender_per_hour` messages in the
        /// last hour: the report is kept and flagged, not answered.
        Flood = "flood",
        /// The escalations' 24-hour budget of parts (`escalation.max_parts_per_day`).
        EscalationBudget = "escalation_budget",
        /// Recorded before refusals had a kind, or by a newer version with a kind this one
        /// does not know; never written.
        Other = "other",
    }
}

text_enum! {
    /// How a message's text came about (`messages.decode_status`).
    pub enum DecodeStatus {
        /// Decoded, every part present.
        Ok = "ok",
        /// The PDU could not be decoded: forwarded with the raw PDU and no text.
        Undecodable = "undecodable",
        /// Parts were still missing at the reassembly timeout: the parts that came, joined.
        Incomplete = "incomplete",
    }
}

text_enum! {
    /// Where an outgoing SMS stands (`outgoing.state`).
    pub enum OutgoingState {
        /// Waiting to be sent (or retried).
        Queued = "queued",
        /// Claimed (committed) just before the modem got it, and its outcome not recorded yet.
        /// A row still here when no send is running (a crash, a full disk) may or may not have
        /// reached the reporter: it is never sent again until a technician decides
        /// (`kufatilia-gateway unconfirmed`).
        Sending = "sending",
        /// The modem accepted every part.
        Sent = "sent",
        /// Given up after the last attempt.
        Failed = "failed",
    }
}

text_enum! {
    /// What became of one escalation (`escalations.state`).
    pub enum EscalationState {
        /// The SMS to the focal point is queued (its sending is the outgoing row's).
        Queued = "queued",
        /// The guard refused it (budget, policy): logged, never tried again for this report.
        Refused = "refused",
    }
}

text_enum! {
    /// Where a forwarding batch stands (`batches.state`).
    pub(crate) enum BatchState {
        Pending = "pending",
        Delivered = "delivered",
        /// The platform refused it for good; kept aside for a person.
        Quarantined = "quarantined",
    }
}

text_enum! {
    /// Where a committed PDU stands (`received.state`).
    pub(crate) enum ReceivedState {
        /// Committed, not decoded yet.
        New = "new",
        /// A part of a long SMS waiting for the others.
        Part = "part",
        /// Decoded and done with (in a message, or a status report).
        Joined = "joined",
        /// A part the network sent twice.
        Duplicate = "duplicate",
    }
}

text_enum! {
    /// Who a platform message is for (`outbound.recipient_kind`).
    pub enum RecipientKind {
        /// A reporter by the name the platform knows (pseudonym or number).
        Reporter = "reporter",
        /// The reporter of an incident, by its platform id or reference.
        Incident = "incident",
    }
}

text_enum! {
    /// What became of a platform message (`outbound.state`, `outbound.reported_state`).
    pub enum OutboundState {
        /// Queued as an SMS.
        Accepted = "accepted",
        Sent = "sent",
        Failed = "failed",
        /// Nobody to send it to.
        Undeliverable = "undeliverable",
    }
}

/// `received.sender_kind`, `messages.sender_kind`: the names pdu's serde gives them.
impl TextValue for AddressKind {
    const NAME: &'static str = "sender kind";
    const ALL: &'static [Self] = &[
        AddressKind::International,
        AddressKind::National,
        AddressKind::Alphanumeric,
        AddressKind::Other,
    ];
    fn as_sql(self) -> &'static str {
        match self {
            AddressKind::International => "international",
            AddressKind::National => "national",
            AddressKind::Alphanumeric => "alphanumeric",
            AddressKind::Other => "other",
        }
    }
}

/// `delivery_state` of `sent_parts`, `outgoing` and `status_reports`: the names pdu's serde
/// gives them.
impl TextValue for DeliveryState {
    const NAME: &'static str = "delivery state";
    const ALL: &'static [Self] = &[
        DeliveryState::Delivered,
        DeliveryState::Pending,
        DeliveryState::Failed,
    ];
    fn as_sql(self) -> &'static str {
        match self {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "pending",
            DeliveryState::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rusqlite::Connection;

    use super::*;

    fn strings<T: TextValue>() -> BTreeSet<String> {
        T::ALL.iter().map(|v| v.as_sql().to_string()).collect()
    }

    /// Every value through SQLite and back, and a string that is none of them refused.
    fn round_trip<T: TextValue + PartialEq + fmt::Debug>(conn: &Connection)
    where
        Text<T>: ToSql + FromSql,
    {
        assert_eq!(
            strings::<T>().len(),
            T::ALL.len(),
            "{}: two values share a string",
            T::NAME
        );
        for &value in T::ALL {
            let back: Text<T> = conn
                .query_row("SELECT ?1", [Text(value)], |r| r.get(0))
                .unwrap();
            assert_eq!(back.0, value);
            let text: String = conn
                .query_row("SELECT ?1", [Text(value)], |r| r.get(0))
                .unwrap();
            assert_eq!(text, value.as_sql());
        }
        let wrong = conn.query_row("SELECT 'no such value'", [], |r| r.get::<_, Text<T>>(0));
        assert!(wrong.is_err(), "{}", T::NAME);
    }

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn every_value_round_trips_through_sqlite() {
        let conn = migrated();
        round_trip::<ReplyKind>(&conn);
        round_trip::<RefusalKind>(&conn);
        round_trip::<DecodeStatus>(&conn);
        round_trip::<OutgoingState>(&conn);
        round_trip::<BatchState>(&conn);
        round_trip::<ReceivedState>(&conn);
        round_trip::<RecipientKind>(&conn);
        round_trip::<OutboundState>(&conn);
        round_trip::<EscalationState>(&conn);
        round_trip::<AddressKind>(&conn);
        round_trip::<DeliveryState>(&conn);
    }

    #[test]
    fn own_enums_bind_and_serialize_as_their_string() {
        let conn = migrated();
        let direct: String = conn
            .query_row("SELECT ?1", [ReplyKind::Question], |r| r.get(0))
            .unwrap();
        assert_eq!(direct, "question");
        let back: RefusalKind = conn
            .query_row("SELECT 'help_once_per_hour'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(back, RefusalKind::HelpOncePerHour);
        assert_eq!(
            serde_json::to_value(OutgoingState::Queued).unwrap(),
            serde_json::json!("queued")
        );
        assert_eq!(DecodeStatus::Incomplete.to_string(), "incomplete");
    }

    /// The SQL names of pdu's enums are the names pdu gives them in JSON.
    #[test]
    fn pdu_enums_keep_their_json_names() {
        fn check<T: TextValue + serde::Serialize>() {
            for &value in T::ALL {
                assert_eq!(
                    serde_json::to_value(value).unwrap(),
                    serde_json::json!(value.as_sql())
                );
            }
        }
        check::<AddressKind>();
        check::<DeliveryState>();
    }

    /// The values of every `CHECK (column IN ('a', 'b', ...))` of the schema, by table and
    /// column.
    fn check_lists(conn: &Connection) -> Vec<((String, String), BTreeSet<String>)> {
        let tables: Vec<(String, String)> = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut lists = Vec::new();
        for (table, sql) in tables {
            for check in sql.split("CHECK (").skip(1) {
                let Some((column, rest)) = check.split_once(" IN (") else {
                    continue;
                };
                let Some((values, _)) = rest.split_once(')') else {
                    continue;
                };
                let values = values
                    .split(',')
                    .map(|v| v.trim().trim_matches('\'').to_string())
                    .collect();
                lists.push(((table.clone(), column.trim().to_string()), values));
            }
        }
        lists
    }

    /// Each CHECK of the schema lists exactly its enum's strings, and every such CHECK has its
    /// enum here.
    #[test]
    fn the_schema_checks_list_exactly_the_enums_strings() {
        let conn = migrated();
        let expected = [
            ("received", "state", strings::<ReceivedState>()),
            ("messages", "decode_status", strings::<DecodeStatus>()),
            ("batches", "state", strings::<BatchState>()),
            ("outgoing", "state", strings::<OutgoingState>()),
            ("outgoing", "delivery_state", strings::<DeliveryState>()),
            ("sent_parts", "delivery_state", strings::<DeliveryState>()),
            (
                "status_reports",
                "delivery_state",
                strings::<DeliveryState>(),
            ),
            ("outbound", "state", strings::<OutboundState>()),
            ("escalations", "state", strings::<EscalationState>()),
        ];
        let lists = check_lists(&conn);
        assert_eq!(
            lists.len(),
            expected.len(),
            "a CHECK list without its enum here: {lists:?}"
        );
        for (table, column, values) in expected {
            let found = lists
                .iter()
                .find(|((t, c), _)| t == table && c == column)
                .map(|(_, v)| v);
            assert_eq!(found, Some(&values), "CHECK of {table}.{column}");
        }
    }

    /// SQLite itself takes every value into its column and refuses anything else.
    #[test]
    fn every_value_fits_its_checked_column() {
        let conn = migrated();
        for &state in BatchState::ALL {
            conn.execute(
                "INSERT INTO batches (id, seq, created_at_ms, state) VALUES (?1, ?2, 0, ?3)",
                rusqlite::params![state.as_str(), state as i64, state],
            )
            .unwrap();
        }
        for &status in DecodeStatus::ALL {
            conn.execute(
                "INSERT INTO messages (modem, text, parts, decode_status, received_at_ms)
                 VALUES ('m1', '', 1, ?1, 0)",
                [status],
            )
            .unwrap();
        }
        for &state in OutgoingState::ALL {
            for &delivery in DeliveryState::ALL {
                conn.execute(
                    "INSERT INTO outgoing (modem, recipient, text, kind, state, delivery_state,
                                           next_attempt_ms, created_at_ms)
                     VALUES ('m1', '+243810000001', '', ?1, ?2, ?3, 0, 0)",
                    rusqlite::params![ReplyKind::Ack, state, Text(delivery)],
                )
                .unwrap();
            }
        }
        for (i, &state) in ReceivedState::ALL.iter().enumerate() {
            conn.execute(
                "INSERT INTO received (modem, storage, pdu_hex, pdu_sha256, received_at_ms, state)
                 VALUES ('m1', 'SM', '00', ?1, 0, ?2)",
                rusqlite::params![vec![i as u8], state],
            )
            .unwrap();
        }
        for &state in OutboundState::ALL {
            conn.execute(
                "INSERT INTO outbound (id, recipient_kind, recipient, state, received_at_ms,
                                       updated_at_ms)
                 VALUES (?1, ?2, 'x', ?1, 0, 0)",
                rusqlite::params![state, RecipientKind::Reporter],
            )
            .unwrap();
        }
        for (table, insert) in [
            (
                "batches",
                "INSERT INTO batches (id, seq, created_at_ms, state) VALUES ('x', 99, 0, 'sent')",
            ),
            (
                "outgoing",
                "INSERT INTO outgoing (modem, recipient, text, kind, state, next_attempt_ms,
                                       created_at_ms)
                 VALUES ('m1', '', '', 'ack', 'delivered', 0, 0)",
            ),
            (
                "messages",
                "INSERT INTO messages (modem, text, parts, decode_status, received_at_ms)
                 VALUES ('m1', '', 1, 'partial', 0)",
            ),
        ] {
            assert!(conn.execute(insert, []).is_err(), "{table} took a stranger");
        }
    }
}
