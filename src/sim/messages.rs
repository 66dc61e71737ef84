//! The notifications the simulated doorbell sends, shaped like a Reolink Video Doorbell's
//! (reference/onvif-events.md, Reolink section), and the TopicSet it advertises.
//!
//! Each message is a self-contained `wsnt:NotificationMessage` element with its own namespace
//! declarations, so injected raw messages and generated ones are queued the same way.

use jiff::Timestamp;
use quick_xml::escape::escape;

use super::xsd;

/// The doorbell button (Reolink).
pub const VISITOR: &str = "tns1:RuleEngine/MyRuleDetector/Visitor";
/// Pixel motion.
pub const MOTION: &str = "tns1:RuleEngine/CellMotionDetector/Motion";
/// Person detection (Reolink AI).
pub const PERSON: &str = "tns1:RuleEngine/MyRuleDetector/PeopleDetect";

/// `PropertyOperation` of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// State sent at subscription start (or SetSynchronizationPoint): not news.
    Initialized,
    /// A state change.
    Changed,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Initialized => "Initialized",
            Operation::Changed => "Changed",
        }
    }
}

/// A NotificationMessage with the given topic (a `tns1:` path), Source and Data SimpleItems.
pub fn notification(
    topic: &str,
    source: &[(&str, &str)],
    data: &[(&str, &str)],
    operation: Operation,
    time: Timestamp,
) -> String {
    let items = |items: &[(&str, &str)]| -> String {
        items
            .iter()
            .map(|(name, value)| {
                format!(
                    r#"<tt:SimpleItem Name="{}" Value="{}"/>"#,
                    escape(*name),
                    escape(*value)
                )
            })
            .collect()
    };
    format!(
        concat!(
            r#"<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2""#,
            r#" xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tt="http://www.onvif.org/ver10/schema">"#,
            r#"<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic>"#,
            r#"<wsnt:Message><tt:Message UtcTime="{time}" PropertyOperation="{op}">"#,
            r#"<tt:Source>{source}</tt:Source><tt:Data>{data}</tt:Data>"#,
            r#"</tt:Message></wsnt:Message></wsnt:NotificationMessage>"#
        ),
        topic = escape(topic),
        time = xsd::format_precise(time),
        op = operation.as_str(),
        source = items(source),
        data = items(data),
    )
}

fn boolean(on: bool) -> &'static str {
    if on { "true" } else { "false" }
}

/// The doorbell button state (Reolink 2022 firmware: Source `Source`=`000`).
pub fn visitor(on: bool, operation: Operation, time: Timestamp) -> String {
    notification(
        VISITOR,
        &[("Source", "000")],
        &[("State", boolean(on))],
        operation,
        time,
    )
}

/// The motion state (Reolink: VSC, VAC and Rule all `000`).
pub fn motion(on: bool, operation: Operation, time: Timestamp) -> String {
    let source = [
        ("VideoSourceConfigurationToken", "000"),
        ("VideoAnalyticsConfigurationToken", "000"),
        ("Rule", "000"),
    ];
    notification(
        MOTION,
        &source,
        &[("IsMotion", boolean(on))],
        operation,
        time,
    )
}

/// The person-detection state.
pub fn person(on: bool, operation: Operation, time: Timestamp) -> String {
    notification(
        PERSON,
        &[("Source", "000")],
        &[("State", boolean(on))],
        operation,
        time,
    )
}

/// One Initialized message per property, as cameras send after subscribing.
pub fn initialized(motion_on: bool, person_on: bool, time: Timestamp) -> Vec<String> {
    vec![
        visitor(false, Operation::Initialized, time),
        motion(motion_on, Operation::Initialized, time),
        person(person_on, Operation::Initialized, time),
    ]
}

fn description(source: &[&str], data: &str) -> String {
    let source: String = source
        .iter()
        .map(|name| format!(r#"<tt:SimpleItemDescription Name="{name}" Type="xsd:string"/>"#))
        .collect();
    format!(
        concat!(
            r#"<tt:MessageDescription IsProperty="true"><tt:Source>{source}</tt:Source>"#,
            r#"<tt:Data><tt:SimpleItemDescription Name="{data}" Type="xsd:boolean"/></tt:Data>"#,
            r#"</tt:MessageDescription>"#
        ),
        source = source,
        data = data,
    )
}

/// The body of GetEventPropertiesResponse: the three topics above.
pub fn event_properties() -> String {
    let motion_source = [
        "VideoSourceConfigurationToken",
        "VideoAnalyticsConfigurationToken",
        "Rule",
    ];
    format!(
        concat!(
            "<tev:GetEventPropertiesResponse>",
            "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>",
            "<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>",
            "<wstop:TopicSet><tns1:RuleEngine>",
            r#"<CellMotionDetector><Motion wstop:topic="true">{motion}</Motion></CellMotionDetector>"#,
            r#"<MyRuleDetector><Visitor wstop:topic="true">{visitor}</Visitor>"#,
            r#"<PeopleDetect wstop:topic="true">{person}</PeopleDetect></MyRuleDetector>"#,
            "</tns1:RuleEngine></wstop:TopicSet>",
            "<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet</wsnt:TopicExpressionDialect>",
            "<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete</wsnt:TopicExpressionDialect>",
            "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter</tev:MessageContentFilterDialect>",
            "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd</tev:MessageContentSchemaLocation>",
            "</tev:GetEventPropertiesResponse>"
        ),
        motion = description(&motion_source, "IsMotion"),
        visitor = description(&["Source"], "State"),
        person = description(&["Source"], "State"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TT: &str = "http://www.onvif.org/ver10/schema";

    #[test]
    fn visitor_message_is_well_formed_and_reolink_shaped() {
        let t: Timestamp = "2024-05-01T12:00:00Z".parse().expect("time");
        let xml = visitor(true, Operation::Changed, t);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let topic = doc
            .descendants()
            .find(|n| n.has_tag_name("Topic"))
            .expect("topic");
        assert_eq!(topic.text(), Some(VISITOR));
        assert_eq!(
            topic.lookup_namespace_uri(Some("tns1")),
            Some("http://www.onvif.org/ver10/topics")
        );
        let message = doc
            .descendants()
            .find(|n| n.has_tag_name((TT, "Message")))
            .expect("tt:Message");
        assert_eq!(message.attribute("PropertyOperation"), Some("Changed"));
        assert_eq!(
            message.attribute("UtcTime"),
            Some("2024-05-01T12:00:00.000Z")
        );
        let items: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name((TT, "SimpleItem")))
            .map(|n| (n.attribute("Name"), n.attribute("Value")))
            .collect();
        assert_eq!(
            items,
            [(Some("Source"), Some("000")), (Some("State"), Some("true"))]
        );
    }

    #[test]
    fn initialized_covers_every_advertised_topic() {
        let messages = initialized(false, true, Timestamp::UNIX_EPOCH);
        assert_eq!(messages.len(), 3);
        let properties = event_properties();
        for (message, leaf) in messages.iter().zip(["Visitor", "Motion", "PeopleDetect"]) {
            assert!(message.contains(r#"PropertyOperation="Initialized""#));
            assert!(properties.contains(&format!("<{leaf} wstop:topic=\"true\">")));
        }
        assert!(messages[2].contains(r#"Name="State" Value="true""#));
    }
}
